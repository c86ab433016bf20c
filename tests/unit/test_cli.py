"""`bringup plan`: what it prints, what it writes, and how it refuses bad input (exit 2)."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from bringup.catalog import load_catalog
from bringup.cli import EXIT_BAD_INPUT, app
from bringup.plan.summary import CABLE_COLUMNS
from bringup.spec import load_cluster

STACKS = Path(__file__).resolve().parents[2] / "stacks"
KNOWN = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS.glob("Pulumi.*.yaml")
)
PLANE_KEYS = {"plane", "tiers", "leaf", "spine", "core", "cables", "transceivers"}
CABLE_KEYS = {"node_leaf", "leaf_spine", "spine_core"}


def _stack_data(name: str) -> dict[str, Any]:
    text = (STACKS / f"Pulumi.{name}.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)["config"]["bringup:cluster"]
    return data


def _plan(*args: str) -> Result:
    return CliRunner().invoke(app, ["plan", *args, "--stacks-dir", str(STACKS)])


def _flat(text: str) -> str:
    """Text with rich's line wrapping undone."""
    return " ".join(text.split())


def _write_stack(folder: Path, name: str, cluster: Any) -> Path:
    path = folder / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": {"bringup:cluster": cluster}}), encoding="utf-8")
    return path


def _cable_total(summary: dict[str, Any]) -> int:
    return sum(
        sum(plane["cables"].values())
        for fabric in summary["fabrics"].values()
        for plane in fabric["planes"]
    )


@pytest.fixture(scope="module")
def lab_json() -> dict[str, Any]:
    result = _plan("lab", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_json_counts_follow_the_declaration(lab_json: dict[str, Any]) -> None:
    cluster = load_cluster(STACKS / "Pulumi.lab.yaml")
    catalog = load_catalog()
    nodes = sum(g.count * g.unit_count for g in cluster.racks)
    gpus = sum(g.count * g.unit_count * catalog.sku(g.sku).gpus_per_unit for g in cluster.racks)
    # an HGX node is one NVLink domain, an NVL72 rack (not partitioned here) is one
    domains = sum(
        g.count * (g.unit_count if catalog.sku(g.sku).nvlink.scope == "node" else 1)
        for g in cluster.racks
        if catalog.sku(g.sku).nvlink is not None
    )
    # the stack's comment: two 8-GPU HGX H100 nodes, one NVL72 rack (18 trays), one CPU node
    assert (nodes, gpus, domains) == (2 + 18 + 1, 2 * 8 + 72, 2 + 1)
    assert lab_json["cluster"] == "lab"
    assert lab_json["site"] == "lab"
    assert (lab_json["nodes"], lab_json["gpus"], lab_json["nvlink_domains"]) == (
        nodes,
        gpus,
        domains,
    )
    assert lab_json["racks"] == sum(g.count for g in cluster.racks)


def test_json_fabrics_have_planes_of_the_documented_shape(lab_json: dict[str, Any]) -> None:
    declared = {f["name"]: f for f in _stack_data("lab")["fabrics"]}
    assert set(lab_json["fabrics"]) == set(declared)
    for name, fabric in lab_json["fabrics"].items():
        assert fabric["switch"] == declared[name]["switch"]
        assert fabric["speed_gbps"] == declared[name]["speed_gbps"]
        assert fabric["role"] == declared[name]["role"]
        assert [p["plane"] for p in fabric["planes"]] == list(
            range(1, declared[name].get("planes", 1) + 1)
        )
        for plane in fabric["planes"]:
            assert set(plane) == PLANE_KEYS
            assert set(plane["cables"]) == CABLE_KEYS
            assert plane["tiers"] in (1, 2, 3)
            assert plane["cables"]["node_leaf"] > 0


def test_json_goes_to_stdout_alone() -> None:
    result = _plan("lab", "--format", "json")
    assert result.stderr == ""
    assert result.stdout.startswith("{")
    assert result.stdout.endswith("}\n")


def test_table_names_the_cluster_and_every_fabric() -> None:
    result = _plan("lab")
    assert result.exit_code == 0, result.stderr
    assert "cluster lab at lab" in result.stdout
    for fabric in _stack_data("lab")["fabrics"]:
        assert fabric["name"] in result.stdout
        assert f"{fabric['switch']} {fabric['speed_gbps']}G" in result.stdout


def test_plain_yaml_file_is_planned(tmp_path: Path) -> None:
    cluster = copy.deepcopy(_stack_data("lab"))
    cluster["name"] = "plain"
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(cluster), encoding="utf-8")
    result = _plan(str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cluster"] == "plain"


def test_stack_file_path_is_planned() -> None:
    result = _plan(str(STACKS / "Pulumi.mixed.yaml"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cluster"] == "mixed"


def test_unknown_stack_names_the_known_ones() -> None:
    result = _plan("no-such-stack")
    assert result.exit_code == EXIT_BAD_INPUT == 2
    assert result.stdout == ""
    message = _flat(result.stderr)
    assert "'no-such-stack'" in message
    assert len(KNOWN) >= 6
    for name in KNOWN:
        assert name in message


def _bad_spec(cluster: dict[str, Any]) -> None:
    cluster["racks"][0]["sku"] = "hgx-z1"


def _bad_fabric(cluster: dict[str, Any]) -> None:
    cluster["fabrics"][0]["speed_gbps"] = 800


def _bad_storage(cluster: dict[str, Any]) -> None:
    cluster["storage"][0]["mount"] = "mnt/shared"


@pytest.mark.parametrize(
    ("spoil", "path"),
    [
        (_bad_spec, "racks.0.sku"),
        (_bad_fabric, "fabrics.0.speed_gbps"),
        (_bad_storage, "storage.0.mount"),
    ],
)
def test_bad_stack_exits_2_naming_the_field_and_writes_nothing(
    tmp_path: Path, spoil: Any, path: str
) -> None:
    cluster = copy.deepcopy(_stack_data("lab"))
    spoil(cluster)
    _write_stack(tmp_path, "bad", cluster)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["plan", "bad", "--stacks-dir", str(tmp_path), "--out", str(out)]
    )
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stdout == ""
    assert f"{path}: " in _flat(result.stderr)
    # rich folds a path longer than the console inside the word: compare without whitespace
    assert str(tmp_path / "Pulumi.bad.yaml") in "".join(result.stderr.split())
    assert not out.exists() or not any(out.iterdir())


def test_invalid_yaml_exits_2(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.broken.yaml").write_text("config: {bringup:cluster: [\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", "broken", "--stacks-dir", str(tmp_path)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "not valid YAML" in _flat(result.stderr)


@pytest.fixture(scope="module")
def too_big_for_qm9700(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gb300-100k racks on one plane of QM9700 at 400G, beyond three tiers (R^3/4)."""
    cluster = _stack_data("gb300-100k")
    compute = cluster["fabrics"][0]
    assert compute["name"] == "compute"
    compute.update(switch="qm9700", speed_gbps=400)
    path = tmp_path_factory.mktemp("big") / "gb300-qm9700.yaml"
    path.write_text(yaml.safe_dump(cluster), encoding="utf-8")
    return path


def test_unplannable_stack_names_what_would_fit(too_big_for_qm9700: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _plan(str(too_big_for_qm9700), "--out", str(out))
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stdout == ""
    message = _flat(result.stderr)
    assert "fabrics.compute" in message
    assert "65,536" in message  # 64^3 / 4 host ports: three tiers of radix 64
    assert "Would fit" in message
    assert "planes: 2" in message
    assert "switch: q3400" in message
    assert not out.exists() or not any(out.iterdir())


@pytest.fixture(scope="module")
def lab_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("lab") / "out"
    result = _plan("lab", "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


def test_out_writes_exactly_the_two_files(lab_out: tuple[Path, dict[str, Any]]) -> None:
    out, _ = lab_out
    assert sorted(p.name for p in out.iterdir()) == ["cabling.csv", "plan.json"]


def test_plan_json_holds_summary_racks_and_nodes(lab_out: tuple[Path, dict[str, Any]]) -> None:
    out, printed = lab_out
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert {"summary", "nodes", "racks"} <= set(plan)
    assert plan["summary"] == printed
    assert len(plan["nodes"]) == printed["nodes"]
    assert len(plan["racks"]) == printed["racks"]
    assert plan["cluster"]["name"] == "lab"


def test_cabling_csv_has_one_row_per_cable(lab_out: tuple[Path, dict[str, Any]]) -> None:
    out, printed = lab_out
    with (out / "cabling.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CABLE_COLUMNS
    cables = rows[1:]
    assert len(cables) == _cable_total(printed)
    assert len(cables) == sum(printed["bom"]["cables"].values())
    assert len({row[0] for row in cables}) == len(cables), "cable ids are unique"
    assert {row[1] for row in cables} == set(printed["fabrics"])


def test_out_twice_gives_identical_bytes(
    lab_out: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    first, _ = lab_out
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    again = tmp_path / "again"
    for target in (first, again):
        result = _plan("lab", "--out", str(target))
        assert result.exit_code == 0, result.stderr
    for target in (first, again):
        assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_console_script_exit_codes_and_streams() -> None:
    """The real entry point, in a process of its own: stdout and stderr are apart."""
    command = [sys.executable, "-m", "bringup", "plan", "--stacks-dir", str(STACKS)]
    ok = subprocess.run([*command, "lab", "--format", "json"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["cluster"] == "lab"
    bad = subprocess.run([*command, "no-such-stack"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "known stacks" in _flat(bad.stderr)
    assert "Traceback" not in bad.stderr

"""The real Pulumi engine (marked `engine`; CI builds it): preview, up, no-op, growth, destroy.

One project folder for the module: each test takes the stack one step further and asserts the
exact operations the engine reported for each resource.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bringup.cli import app
from bringup.infra.engine import Engine, _keep_newest
from bringup.lab import PASSPHRASE
from bringup.plan import make_plan
from bringup.render import render_cluster_files, render_rack_files
from bringup.spec import Cluster, parse_cluster
from bringup.workspace import Workspace

pytestmark = pytest.mark.engine

LAB = Path(__file__).resolve().parents[3] / "stacks" / "Pulumi.lab.yaml"
ALL_HOST_FILES = {"lab-hosts", "lab-cabling", "lab-topology", "lab-bom", "lab-slurm"}


def _lab(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LAB.read_text())["config"]["bringup:cluster"]
    return {**copy.deepcopy(data), **changes}


def _grown() -> Cluster:
    data = _lab()
    data["racks"] = [
        *data["racks"],
        {"sku": "hgx-h100", "count": 1, "hall": 1, "row": 1, "rack": 4, "units": 2},
    ]
    return parse_cluster(data)


def _reskued() -> Cluster:
    """The grown cluster, with its first rack of H100 nodes turned into H200 nodes."""
    data = _grown().model_dump(mode="json", exclude_defaults=True)
    data["racks"][0]["sku"] = "hgx-h200"
    return parse_cluster(data)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(Workspace(tmp_path_factory.mktemp("project")), default_passphrase=PASSPHRASE)


def _files_on_disk(root: Path) -> dict[str, str]:
    folder = root / "inventory" / "lab"
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _rendered(cluster: Cluster) -> dict[str, str]:
    plan = make_plan(cluster)
    files = render_cluster_files(plan, "lab")
    for rack in plan.racks:
        files.update(render_rack_files(plan, "lab", rack.name))
    return {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in files.items()}


def _ops(steps: dict[str, str], op: str) -> set[str]:
    return {name for name, o in steps.items() if o == op}


def test_preview_lists_the_expected_creates(engine: Engine) -> None:
    cluster = parse_cluster(_lab())
    plan = make_plan(cluster)
    outcome = engine.preview("lab", cluster)
    racks = {f"lab-{r.name}" for r in plan.racks}
    expected = (
        {"lab", "lab-shared", "lab-lab-h1-r01-k02-nvl1"}
        | racks
        | {f"{r}-host-vars" for r in racks}
        | {f"lab-{fp.name}-p{p}" for fp in plan.fabrics for p in fp.planes}
        | ALL_HOST_FILES
        | {"lab-group-vars"}
    )
    assert _ops(outcome.steps, "create") == expected
    assert outcome.summary == {"create": len(expected) + 1}  # and the stack itself
    assert not (engine.workspace.root / "inventory" / "lab").exists()  # a preview writes nothing


def test_up_writes_the_inventory(engine: Engine) -> None:
    cluster = parse_cluster(_lab())
    outcome = engine.up("lab", cluster)
    assert set(outcome.summary) == {"create"}
    assert _files_on_disk(engine.workspace.root) == _rendered(cluster)
    assert outcome.outputs["inventory"] == "inventory/lab/hosts.yml"
    assert (outcome.outputs["nodes"], outcome.outputs["gpus"]) == (21, 88)
    assert outcome.outputs["switches"]["compute-p1"] == {"leaf": 8, "spine": 4, "core": 0}


def test_second_up_changes_nothing(engine: Engine) -> None:
    outcome = engine.up("lab", parse_cluster(_lab()))
    assert set(outcome.summary) == {"same"}


def test_what_the_program_froze_for_the_run_is_collected_again_after_it(engine: Engine) -> None:
    engine.preview("lab", parse_cluster(_lab()))
    assert gc.get_freeze_count() == 0


def test_bad_config_exits_2_naming_the_field_and_touches_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _lab()
    bad["racks"] = [{**bad["racks"][0], "units": 0}]
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.lab.yaml").write_text(yaml.safe_dump({"config": {"bringup:cluster": bad}}))
    state = next((engine.workspace.root / ".state" / "pulumi").rglob("lab.json"))
    before = (state.read_bytes(), _files_on_disk(engine.workspace.root))
    monkeypatch.chdir(engine.workspace.root)
    result = CliRunner().invoke(app, ["up", "--stack", "lab", "--stacks-dir", str(stacks)])
    assert result.exit_code == 2
    assert "racks.0.units" in " ".join(result.output.split())
    assert (state.read_bytes(), _files_on_disk(engine.workspace.root)) == before


def test_adding_a_rack_creates_only_its_resources(engine: Engine) -> None:
    grown = _grown()
    outcome = engine.up("lab", grown)
    new_rack = "lab-lab-h1-r01-k04"
    assert _ops(outcome.steps, "create") == {new_rack, f"{new_rack}-host-vars"}
    assert _ops(outcome.steps, "update") == ALL_HOST_FILES
    assert _ops(outcome.steps, "replace") | _ops(outcome.steps, "delete") == set()
    assert _files_on_disk(engine.workspace.root) == _rendered(grown)


def test_changing_a_racks_sku_replaces_only_that_rack(engine: Engine) -> None:
    changed = _reskued()
    outcome = engine.up("lab", changed)
    assert _ops(outcome.steps, "replace") == {"lab-lab-h1-r01-k01-host-vars"}
    assert _ops(outcome.steps, "create") | _ops(outcome.steps, "delete") == set()
    # H200 nodes keep the H100's names, ports and cables: only the SKU groups, the group_vars
    # of the new SKU, the bill of materials and the Slurm configuration (the nodes' Feature
    # and partitions name their SKU) change
    assert _ops(outcome.steps, "update") == {"lab-hosts", "lab-group-vars", "lab-bom", "lab-slurm"}
    assert _files_on_disk(engine.workspace.root) == _rendered(changed)


def test_destroy_removes_every_file_and_leaves_an_empty_stack(engine: Engine) -> None:
    cluster = _reskued()
    outcome = engine.destroy("lab", cluster)
    assert set(outcome.summary) == {"delete"}
    assert not (engine.workspace.root / "inventory" / "lab").exists()
    assert engine.resource_count("lab", cluster) == 0


def test_the_logs_kept_are_each_stacks_own(tmp_path: Path) -> None:
    for stack in ("lab", "lab-2"):
        for n in range(5):
            path = tmp_path / f"up-{stack}-2026120{n}T000000000000Z.log"
            path.write_text(stack)
            os.utime(path, (n, n))
    (tmp_path / "internal-20261201T000000Z.log").write_text("not an engine log")
    _keep_newest(tmp_path, 2, re.compile(r"[a-z]+-lab-\d{8}T\d{12}Z\.log"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "internal-20261201T000000Z.log",
        *(f"up-lab-2-2026120{n}T000000000000Z.log" for n in range(5)),
        "up-lab-20261203T000000000000Z.log",
        "up-lab-20261204T000000000000Z.log",
    ]

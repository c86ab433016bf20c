"""`bringup health` on the command line: exit codes, one verdict on stdout, one-line errors, the
report to the watch, and the check from the controller. The collection is the lab's emulated
node (its real formats) where this machine is no GPU node."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from bringup.cli.common import ErrorEdge
from bringup.cli.health import register
from bringup.errors import BringupError
from bringup.health import collect as health_collect
from bringup.health.collect import Run
from bringup.validation.collect import BEGIN, END, NodeOutputs
from bringup.workspace import REPOSITORY
from tests.unit.validation.conftest import HGX, NodeCase, host_vars

STACKS = REPOSITORY / "stacks"


def _app() -> typer.Typer:
    app = typer.Typer(cls=ErrorEdge, add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """A command group, as bringup's own (its error edge included)."""

    register(app)
    return app


def invoke(*args: str) -> Result:
    return CliRunner().invoke(_app(), ["health", *args])


def _printed(sections: Mapping[str, tuple[str, int]]) -> str:
    return "".join(f"\n{BEGIN} {n}\n{text}\n{END} {n} {rc}\n" for n, (text, rc) in sections.items())


class Canned:
    """A node whose collection prints `outputs`, and whose failure evidence is a kernel log."""

    def __init__(self, outputs: NodeOutputs) -> None:
        self.outputs = outputs
        self.scripts: list[str] = []

    def run(self, text: str, timeout_s: float) -> Run:
        self.scripts.append(text)
        if "kernel-log" in text:
            return Run(0, _printed({"kernel-log": ("NVRM: Xid 79\n", 0)}), "")
        return Run(0, _printed(self.outputs.sections), "")


@pytest.fixture
def expected_file(tmp_path: Path) -> Path:
    path = tmp_path / f"{HGX}.yml"
    path.write_text(yaml.safe_dump(host_vars(HGX)))
    return path


@pytest.fixture
def on_node(
    make_case: Callable[[str], NodeCase], monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[NodeCase], None]], Canned]:
    """This machine as the HGX lab node, broken by `change`."""

    def be(change: Callable[[NodeCase], None]) -> Canned:
        case = make_case(HGX)
        change(case)
        canned = Canned(case.node().outputs)
        monkeypatch.setattr(health_collect, "LOCAL", canned)
        return canned

    return be


def _healthy(case: NodeCase) -> None:
    pass


def _gpu_lost(case: NodeCase) -> None:
    case.fault("gpu-off-bus", gpu=3)


def test_healthy_node_exits_0_with_one_verdict_on_stdout(
    on_node: Callable[[Callable[[NodeCase], None]], Canned], expected_file: Path
) -> None:
    on_node(_healthy)
    result = invoke("--expected", str(expected_file), "--trigger", "interval", "--format", "json")
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)  # exactly one JSON document
    assert (verdict["node"], verdict["trigger"], verdict["healthy"]) == (HGX, "interval", True)
    assert verdict["findings"] == []
    assert result.stderr == ""


def test_the_expectation_the_slurm_node_role_writes_is_read(
    on_node: Callable[[Callable[[NodeCase], None]], Canned], tmp_path: Path
) -> None:
    """/etc/bringup/expected.json: the host's variables as JSON (to_nice_json)."""
    on_node(_healthy)
    path = tmp_path / "expected.json"
    variables = {"inventory_hostname": HGX, "bringup_expected": host_vars(HGX)["bringup_expected"]}
    path.write_text(json.dumps(variables, indent=4))
    result = invoke("--expected", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["node"] == HGX


def test_drain_worthy_node_exits_1(
    on_node: Callable[[Callable[[NodeCase], None]], Canned], expected_file: Path
) -> None:
    canned = on_node(_gpu_lost)
    result = invoke("--expected", str(expected_file), "--format", "json")
    assert result.exit_code == 1, result.stderr
    verdict = json.loads(result.stdout)
    assert (verdict["drain"], verdict["action"], verdict["trigger"]) == (True, "reboot", "cli")
    assert {(f["component"], f["check"]) for f in verdict["findings"]} == {
        (f"gpu:{HGX}/3", "gpu.count"),
        (f"gpu:{HGX}/3", "gpu.xid"),
    }
    assert verdict["evidence"]["kernel-log"] == "NVRM: Xid 79\n"
    assert len(canned.scripts) == 2


def test_table_has_a_line_per_finding(
    on_node: Callable[[Callable[[NodeCase], None]], Canned], expected_file: Path
) -> None:
    on_node(_gpu_lost)
    result = invoke("--expected", str(expected_file))
    assert result.exit_code == 1, result.stderr
    head, columns, *rows = result.stdout.splitlines()
    assert head.startswith(f"{HGX}: drain: reboot (critical), 2 finding(s) of 19 check(s)")
    assert columns.split() == ["COMPONENT", "CHECK", "OBSERVED", "EXPECTED", "ACTION"]
    assert [row.split()[:2] for row in rows] == [
        [f"gpu:{HGX}/3", "gpu.count"],
        [f"gpu:{HGX}/3", "gpu.xid"],
    ]
    count, xid = rows
    assert "lost (fallen off the bus)  visible to the driver" in count
    assert count.endswith("reboot (replace the GPU if it is lost again)")
    assert "Xid 79" in xid
    assert xid.endswith("reboot")
    assert len({row.index("gpu.") for row in rows} | {columns.index("CHECK")}) == 1  # aligned


def test_table_of_a_healthy_node_is_one_line(
    on_node: Callable[[Callable[[NodeCase], None]], Canned], expected_file: Path
) -> None:
    on_node(_healthy)
    result = invoke("--expected", str(expected_file))
    assert result.exit_code == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{HGX}: healthy (ok), 0 finding(s) of 19 check(s), collected in")


def _one_error_line(result: Result, *needles: str) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert all(n in line for n in needles), line
    assert "Traceback" not in result.stderr


def test_missing_expected_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    _one_error_line(invoke("--expected", str(missing)), "--expected", str(missing), "cannot read")


def test_file_without_an_expectation_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "vars.yml"
    path.write_text("ansible_host: 10.0.0.1\n")
    _one_error_line(invoke("--expected", str(path)), "no bringup_expected")


def test_expectation_that_does_not_load_is_one_line(tmp_path: Path) -> None:
    variables = host_vars(HGX)
    variables["bringup_expected"]["gpu"]["count"] = "eight"
    path = tmp_path / "vars.yml"
    path.write_text(yaml.safe_dump(variables))
    _one_error_line(invoke("--expected", str(path)), "bringup_expected.gpu.count")


def test_yaml_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "vars.yml"
    path.write_text("bringup_expected: [unclosed\n")
    _one_error_line(invoke("--expected", str(path)), "cannot read")


def test_where_to_check_must_be_said_once(expected_file: Path) -> None:
    _one_error_line(invoke(), "give --expected FILE")
    _one_error_line(invoke("--expected", str(expected_file), "--node", HGX), "give one")


def test_a_bad_trigger_is_a_usage_error(expected_file: Path) -> None:
    result = invoke("--expected", str(expected_file), "--trigger", "cron")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Mapping[str, object]]]:
    """The report module, as the node loads it, with a post that records what it was given
    and fails for URLs of an unreachable watch."""
    posted: list[tuple[str, Mapping[str, object]]] = []

    class Unreached(BringupError):
        pass

    def post_verdict(url: str, verdict: Mapping[str, object]) -> Mapping[str, object]:
        if "unreachable" in url:
            raise Unreached(f"{url}: not reached: [Errno 111] Connection refused")
        posted.append((url, verdict))
        return {"decision": "drained"}

    module: Any = types.ModuleType("bringup.health.report")
    module.post_verdict = post_verdict
    monkeypatch.setitem(sys.modules, "bringup.health.report", module)
    return posted


def test_report_posts_the_verdict_printed(
    on_node: Callable[[Callable[[NodeCase], None]], Canned],
    expected_file: Path,
    watch: list[tuple[str, Mapping[str, object]]],
) -> None:
    on_node(_gpu_lost)
    url = "http://10.64.255.254:7070/v1/verdicts"
    result = invoke("--expected", str(expected_file), "--format", "json", "--report", url)
    assert result.exit_code == 1, result.stderr
    assert watch == [(url, json.loads(result.stdout))]


def test_a_healthy_verdict_is_not_sent(
    on_node: Callable[[Callable[[NodeCase], None]], Canned],
    expected_file: Path,
    watch: list[tuple[str, Mapping[str, object]]],
) -> None:
    on_node(_healthy)
    url = "http://unreachable:7070/v1/verdicts"  # would fail, were it sent
    result = invoke("--expected", str(expected_file), "--format", "json", "--report", url)
    assert (result.exit_code, result.stderr, watch) == (0, "", [])
    assert json.loads(result.stdout)["drain"] is False


def test_a_watch_away_is_one_line_and_the_verdict_stands(
    on_node: Callable[[Callable[[NodeCase], None]], Canned],
    expected_file: Path,
    watch: list[tuple[str, Mapping[str, object]]],
) -> None:
    on_node(_gpu_lost)
    url = "http://unreachable:7070/v1/verdicts"
    result = invoke("--expected", str(expected_file), "--format", "json", "--report", url)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["drain"] is True
    (line,) = result.stderr.splitlines()
    said = f"{url}: not reached: [Errno 111] Connection refused"
    assert line == f"error: verdict not reported: {said}"


def test_from_the_controller_over_the_stacks_access(
    make_case: Callable[[str], NodeCase], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = make_case(HGX)
    case.fault("nvlink-inactive", gpu=2, link=7)
    canned = Canned(case.node().outputs)
    reached: list[str] = []

    def run(self: health_collect.Remote, text: str, timeout_s: float) -> Run:
        reached.append(f"{self.access.user}@{self.address}")
        return canned.run(text, timeout_s)

    monkeypatch.setattr(health_collect.Remote, "run", run)
    args = ("--stack", "lab", "--node", HGX, "--stacks-dir", str(STACKS), "--format", "json")
    result = invoke(*args)
    assert result.exit_code == 1, result.stderr
    verdict = json.loads(result.stdout)
    assert [(f["component"], f["action"]) for f in verdict["findings"]] == [
        (f"nvlink:{HGX}/gpu2/link7", "reset-gpu")
    ]
    address = case.host.expected.management_address
    assert reached == [f"root@{address}", f"root@{address}"]  # the check, then its evidence


def test_an_unknown_node_is_one_line() -> None:
    result = invoke("--stack", "lab", "--node", "no-such-node", "--stacks-dir", str(STACKS))
    _one_error_line(result, "--node no-such-node: no such node in stack lab")

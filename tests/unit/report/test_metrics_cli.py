"""`bringup metrics` in a project of its own: the ledger and drill files where bringup keeps
them, stdout or an atomically written file, both formats, and one-line refusals."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus
from typer.testing import CliRunner, Result

from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.cli import metrics
from bringup.cli.common import ErrorEdge
from tests.unit.report.test_metrics import (
    DRILLS,
    STACK,
    STACKS,
    keep_drills,
    openmetrics_families,
    seed,
)


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    return tmp_path


def drills(project: Path) -> Path:
    """Where bringup keeps the lab's drill summaries."""
    return project / ".state" / "drills" / STACK


def app() -> typer.Typer:
    """The command as `bringup` has it: behind the same error edge."""
    built = typer.Typer(cls=ErrorEdge, add_completion=False, pretty_exceptions_enable=False)
    built.callback()(lambda: None)  # a group, so that the command keeps its name
    metrics.register(built)
    return built


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app(), ["metrics", *args, "--stacks-dir", str(STACKS)])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of Prometheus text by name and labels (the stack's label left out)."""
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "stack"))): s.value
        for family in parse_prometheus(text)
        for s in family.samples
    }


def test_the_metrics_of_the_ledger_and_drills_go_to_stdout(project: Path) -> None:
    seed(project / ".state" / "ledger.sqlite3")
    keep_drills(drills(project), DRILLS)
    result = invoke("--stack", STACK)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    found = samples(result.stdout)
    assert found["bringup_admitted_gpus", (("sku", "hgx-h100"),)] == 8
    nodes = (("rack", "lab-h1-r01-k01"), ("sku", "hgx-h100"), ("state", "quarantined"))
    assert found["bringup_nodes", nodes] == 1
    assert found["bringup_incidents", (("check", "gpu.xid"), ("kind", "gpu"), ("status", "open"))]
    assert found["bringup_admission_runs_total", (("status", "finished"),)] == 1
    assert found["bringup_drill_fault_to_drain_seconds", (("fault", "xid"),)] == 12.5
    assert found["bringup_drills_total", (("completed", "false"), ("fault", "cable-cut"))] == 1


def test_a_new_project_shows_every_node_pending_and_no_drill(project: Path) -> None:
    result = invoke("--stack", STACK)
    assert result.exit_code == 0, result.output
    found = samples(result.stdout)
    nodes = {labels: n for (name, labels), n in found.items() if name == "bringup_nodes" and n}
    assert {dict(labels)["state"] for labels in nodes} == {"pending"}
    assert sum(nodes.values()) == 21
    assert not any(name.startswith("bringup_drill") for name, _ in found)


def test_openmetrics_on_request(project: Path) -> None:
    seed(project / ".state" / "ledger.sqlite3")
    result = invoke("--stack", STACK, "--format", "openmetrics")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("# EOF\n")
    names = {f.name for f in openmetrics_families(result.stdout)}
    assert {"bringup_nodes", "bringup_admission_runs", "bringup_incidents"} <= names


def test_out_writes_a_file_for_the_textfile_collector_atomically(project: Path) -> None:
    seed(project / ".state" / "ledger.sqlite3")
    folder = project / "textfile"
    folder.mkdir()
    target = folder / "bringup-lab.prom"
    target.write_text("old\n")
    result = invoke("--stack", STACK, "--out", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert os.listdir(folder) == ["bringup-lab.prom"]  # no temporary file left beside it
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # node-exporter's user reads it
    written = target.read_text()
    assert samples(written)["bringup_admission_runs_running", ()] == 1
    # the same as stdout, but for the time it was made
    shown = invoke("--stack", STACK).stdout
    stamp = "bringup_metrics_generated_timestamp_seconds"
    assert [line for line in written.splitlines() if not line.startswith(stamp)] == [
        line for line in shown.splitlines() if not line.startswith(stamp)
    ]


def _refused(result: Result) -> str:
    """The one error line of a refused command (exit 2, nothing on stdout)."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_an_unknown_stack_is_one_line(project: Path) -> None:
    line = _refused(invoke("--stack", "nope"))
    assert line.startswith("error: stack 'nope': no file ")
    assert "known stacks: " in line


def test_an_unknown_format_is_one_line(project: Path) -> None:
    line = _refused(invoke("--stack", STACK, "--format", "json"))
    assert "'json' is not one of 'prometheus', 'openmetrics'" in line


def test_a_broken_drill_summary_is_one_line_naming_it(project: Path) -> None:
    folder = keep_drills(
        drills(project), [DRILLS[0], DRILLS[1].replace('"job_completed": false', "")]
    )
    line = _refused(invoke("--stack", STACK))
    broken = folder / "20261206T110000Z-drill.json"
    assert line.startswith(f"error: drill summary {broken}: the file: Invalid JSON")


def test_a_drill_summary_without_a_field_is_one_line_naming_it(project: Path) -> None:
    folder = keep_drills(drills(project), [DRILLS[0].replace('"fault": "xid",', "")])
    line = _refused(invoke("--stack", STACK))
    assert line == (
        f"error: drill summary {folder / '20261206T100000Z-drill.json'}: fault: Field required "
        "(a summary as `bringup lab drill` prints it expected)"
    )


@pytest.mark.parametrize("where", ["a-file/metrics.prom", "a-folder"])
def test_an_out_that_cannot_be_written_is_one_line(project: Path, where: str) -> None:
    (project / "a-file").write_text("")
    (project / "a-folder").mkdir()
    line = _refused(invoke("--stack", STACK, "--out", str(project / where)))
    assert line.startswith(f"error: --out {project / where}: cannot write it: ")
    assert (project / "a-file").read_text() == ""
    assert os.listdir(project / "a-folder") == []
    assert sorted(os.listdir(project)) == [".state", "a-file", "a-folder"]  # no temporary left

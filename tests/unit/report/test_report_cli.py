"""`bringup report` on a ledger written here: the page written and its path printed, bad input
refused in one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.cli import report
from bringup.cli.common import ErrorEdge

from .lab_ledger import QUARANTINED, STACKS, seed


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    return tmp_path


def app() -> typer.Typer:
    """The command as `bringup` has it: behind the same error edge."""
    built = typer.Typer(cls=ErrorEdge, add_completion=False, pretty_exceptions_enable=False)
    built.callback()(lambda: None)  # a group, so that the command keeps its name
    report.register(built)
    return built


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app(), ["report", *args, "--stacks-dir", str(STACKS)])


def test_the_page_is_written_into_the_folder_and_its_path_printed(project: Path) -> None:
    seed(project)
    drills = project / ".state" / "drills" / "lab"
    drills.mkdir(parents=True)
    summary = {"fault": "xid", "node": QUARANTINED, "job_completed": True, "steps_redone": 2}
    (drills / "20260301T120000-xid.json").write_text(json.dumps(summary))
    result = invoke("--stack", "lab", "--out", "site/report")
    assert result.exit_code == 0, result.output
    assert result.stdout == "site/report/index.html\n"
    page = (project / "site" / "report" / "index.html").read_text()
    assert QUARANTINED in page
    assert "20260301T120000-xid" in page  # the drill's row
    assert f"{project / '.state' / 'ledger.sqlite3'}" in page  # made from
    assert [p.name for p in (project / "site" / "report").iterdir()] == ["index.html"]


def test_a_second_report_replaces_the_first(project: Path) -> None:
    assert invoke("--stack", "lab", "--out", "out").exit_code == 0
    first = (project / "out" / "index.html").read_text()
    seed(project)
    assert invoke("--stack", "lab", "--out", "out").exit_code == 0
    second = (project / "out" / "index.html").read_text()
    assert QUARANTINED not in first.split('id="findings"')[1].split("</section>")[0]
    assert QUARANTINED in second.split('id="findings"')[1].split("</section>")[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--stack", "nosuch", "--out", "out"), "error: stack 'nosuch': no file"),
        (("--stack", "../lab", "--out", "out"), "error: "),
        (("--stack", "lab", "--out", "taken"), "error: --out taken: not a folder"),
        (("--stack", "lab"), "error: Missing option '--out'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    (project / "taken").write_text("a file")
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message)
    assert len(result.stderr.splitlines()) == 1
    assert not (project / "out").exists()


def test_a_drill_summary_that_is_not_one_is_named(project: Path) -> None:
    drills = project / ".state" / "drills" / "lab"
    drills.mkdir(parents=True)
    (drills / "20260301T120000-xid.json").write_text("{not json")
    result = invoke("--stack", "lab", "--out", "out")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: drill summary {drills / '20260301T120000-xid.json'}:")
    assert not (project / "out" / "index.html").exists()

"""`bringup incidents` on a ledger written here: the table, JSON, the breaker's loud line, bad
input."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner, Result

from bringup.admit.ledger import Ledger
from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.cli import incidents
from bringup.cli.common import ErrorEdge
from bringup.validation.report import Finding

STACKS = Path(__file__).resolve().parents[3] / "stacks"
H100 = "lab-h1-r01-k01-n1"
TRAY = "lab-h1-r01-k02-t07"
CPU = "lab-h1-r01-k03-n1"
SEEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HELD = (
    "circuit breaker: 3 nodes of 21 (14%) drained within 600 s, over the cluster limit of 10% "
    "(2 nodes)"
)


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    return tmp_path


def app() -> typer.Typer:
    """The command as `bringup` has it: behind the same error edge."""
    built = typer.Typer(cls=ErrorEdge, add_completion=False, pretty_exceptions_enable=False)
    built.callback()(lambda: None)  # a group, so that the command keeps its name
    incidents.register(built)
    return built


def invoke(*args: str) -> Result:
    return CliRunner().invoke(
        app(), ["incidents", *args, "--stacks-dir", str(STACKS)], env={"COLUMNS": "250"}
    )


def seed(project: Path, *, held: bool = True) -> dict[str, int]:
    """Three incidents: a drained GPU with a job, a held tray, a closed NIC. Their ids by node."""
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        gpu = Finding(f"gpu:{H100}/3", "gpu.xid", "Xid 79", "no Xid")
        drained, _ = ledger.open_incident(
            "lab",
            H100,
            findings=[gpu],
            first_seen=SEEN,
            trigger="epilog",
            action="reboot",
            jobs=[{"id": "4711", "name": "train-llm", "state": "FAILED", "user": "alice"}],
            bundle=f".state/incidents/lab/{H100}",
        )
        ledger.update_incident(
            drained.id, scheduler="drained", drained_at=SEEN + timedelta(seconds=41.5)
        )
        link = Finding(f"nvlink:{TRAY}/gpu0/link3", "nvlink.link_state", "Down", "Up")
        tray, _ = ledger.open_incident(
            "lab", TRAY, findings=[link], first_seen=SEEN, trigger="interval", action="reset-gpu"
        )
        if held:
            ledger.update_incident(
                tray.id, status="held", breaker=HELD, scheduler="held by circuit breaker"
            )
        nic = Finding(f"nic:{CPU}/inband", "nic.carrier", "no carrier", "carrier")
        closed, _ = ledger.open_incident(
            "lab", CPU, findings=[nic], first_seen=SEEN, trigger="cli", action="check-cable"
        )
        ledger.close_incidents("lab", CPU, "cable reseated")
        return {H100: drained.id, TRAY: tray.id, CPU: closed.id}


def _ids(stdout: str) -> list[int]:
    """The ids of a table's rows, in order: its first column, which never folds."""
    cells = (line.split("│")[1].strip() for line in stdout.splitlines() if line.startswith("│"))
    return [int(cell) for cell in cells if cell]


def test_the_table_lists_incidents_newest_first_after_the_breakers_loud_line(
    project: Path,
) -> None:
    ids = seed(project)
    result = invoke("--stack", "lab")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "circuit breaker open: 1 incident(s) held: 3 nodes of 21 (14%) drained within 600 s, "
        "over the cluster limit of 10% (2 nodes)"
    )
    assert _ids(result.stdout) == [ids[CPU], ids[TRAY], ids[H100]]
    assert lines[-1] == "3 incident(s): 1 open, 1 held, 1 closed"
    assert result.stderr == ""


def test_a_row_says_what_failed_what_was_done_and_where_the_evidence_is(project: Path) -> None:
    ids = seed(project)
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        found = ledger.incidents("lab")
    screen = Console(file=io.StringIO(), width=250, markup=False, highlight=False)
    screen.print(incidents.incidents_table("lab", found))
    lines = screen.file.getvalue().splitlines()  # type: ignore[attr-defined]
    rows = {node: next(line for line in lines if node in line) for node in ids}
    cells = [cell.strip() for cell in rows[H100].split("│")[1:-1]]
    assert cells == [
        str(ids[H100]),
        H100,
        f"gpu:{H100}/3",
        "gpu.xid",
        "Xid 79",
        "open",
        "drained",
        "2026-03-01 12:00:00",
        "41.5",
        "4711 train-llm (alice)",
        f".state/incidents/lab/{H100}",
    ]
    held = [cell.strip() for cell in rows[TRAY].split("│")[1:-1]]
    assert (held[5], held[6], held[8], held[9]) == ("held", "held by circuit breaker", "", "")
    closed = [cell.strip() for cell in rows[CPU].split("│")[1:-1]]
    assert (closed[2], closed[5]) == (f"nic:{CPU}/inband", "closed")


def test_an_escalated_incident_names_its_domain(project: Path) -> None:
    ids = seed(project)
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        ledger.update_incident(ids[TRAY], domain="lab-h1-r01-k02-nvl1")
        found = ledger.incidents("lab", node=TRAY)
    screen = Console(file=io.StringIO(), width=250, markup=False, highlight=False)
    screen.print(incidents.incidents_table("lab", found))
    text = screen.file.getvalue()  # type: ignore[attr-defined]
    assert f"nvlink-domain:lab-h1-r01-k02-nvl1 (nvlink:{TRAY}/gpu0/link3)" in text


def test_open_leaves_the_closed_ones_out(project: Path) -> None:
    ids = seed(project)
    result = invoke("--stack", "lab", "--open")
    assert result.exit_code == 0, result.output
    assert _ids(result.stdout) == [ids[TRAY], ids[H100]]
    assert result.stdout.splitlines()[-1] == "2 incident(s): 1 open, 1 held"


def test_no_held_incident_no_loud_line(project: Path) -> None:
    seed(project, held=False)
    result = invoke("--stack", "lab")
    assert result.exit_code == 0, result.output
    assert "circuit breaker" not in result.output
    assert result.stdout.splitlines()[-1] == "3 incident(s): 2 open, 1 closed"


def test_an_empty_ledger_has_no_incidents(project: Path) -> None:
    result = invoke("--stack", "lab")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "0 incident(s)"


def test_json_is_every_incident_with_the_breaker_on_stderr(project: Path) -> None:
    ids = seed(project)
    result = invoke("--stack", "lab", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [i["id"] for i in data["incidents"]] == [ids[CPU], ids[TRAY], ids[H100]]
    assert (data["stack"], data["held"], data["breaker"]) == ("lab", 1, HELD)
    gpu = data["incidents"][2]
    assert (gpu["node"], gpu["drain_after_s"], gpu["scheduler"], gpu["jobs"][0]["user"]) == (
        H100,
        41.5,
        "drained",
        "alice",
    )
    assert gpu["findings"] == [
        {
            "component": f"gpu:{H100}/3",
            "check": "gpu.xid",
            "observed": "Xid 79",
            "expected": "no Xid",
            "evidence": "",
            "attributes": {},
        }
    ]
    assert result.stderr.startswith("circuit breaker open: 1 incident(s) held: 3 nodes of 21")
    open_only = json.loads(invoke("--stack", "lab", "--format", "json", "--open").stdout)
    assert [i["status"] for i in open_only["incidents"]] == ["held", "open"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "yaml"], "'yaml' is not one of 'table', 'json'"),
        (["--stack", "nope"], "stack 'nope': no file"),
    ],
)
def test_bad_input_exits_2_in_one_line(project: Path, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (project / ".state" / "ledger.sqlite3").exists()  # nothing opened

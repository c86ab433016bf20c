"""`bringup admit | status | repaired` without a lab: argument handling, the ledger and a
scheduler in memory side by side, what admit says of the scheduler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bringup.admit import admission as admission_module
from bringup.admit.admission import AdmissionRequest, AdmissionResult, SchedulerReport
from bringup.admit.ledger import Ledger
from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.admit.verdict import NodeVerdict
from bringup.cli import app
from bringup.scheduler import adapter as adapter_module
from bringup.scheduler.adapter import NodeOutcome
from bringup.scheduler.none import NoScheduler
from bringup.validation.report import Finding
from tests.unit.scheduler.fakes import FakeScheduler

STACKS = Path(__file__).resolve().parents[3] / "stacks"
NODE = "lab-h1-r01-k01-n1"


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    # no lab runs here: its Access may name its Slurm, which nobody started
    monkeypatch.setattr(adapter_module, "adapter_for", lambda access: NoScheduler())
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--stacks-dir", str(STACKS)], env={"COLUMNS": "250"})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain-policy", "most"], "--domain-policy: domain policy 'most'"),
        (["--limit", f"{NODE},no-such-node"], "--limit: no-such-node not in stack 'lab'"),
    ],
)
def test_bad_admit_input_exits_2_naming_the_value(
    project: Path, args: list[str], message: str
) -> None:
    code, output = invoke("admit", "--stack", "lab", *args)
    assert code == 2
    assert message in " ".join(output.split())
    assert not (project / ".state" / "ledger.sqlite3").exists()  # nothing written


def test_status_lists_every_node_by_rack_with_its_findings(project: Path) -> None:
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        run = ledger.start_run("lab", [NODE], {})
        ledger.record_state("lab", NODE, "provisioned", run_id=run.id)
        ledger.record_state("lab", NODE, "validating", run_id=run.id)
        finding = Finding(f"gpu:{NODE}/2", "gpu.ecc_uncorrected", "3", "0")
        ledger.record_verdict(run.id, "lab", NODE, "quarantined", [finding])
    code, output = invoke("status", "--stack", "lab")
    assert code == 0
    row = next(line for line in output.splitlines() if NODE in line)
    assert "quarantined" in row
    assert f"gpu:{NODE}/2" in output
    assert output.count("unknown") == 20  # the other nodes of the stack, never judged


def test_status_json_counts_admitted_capacity_per_sku(project: Path) -> None:
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        run = ledger.start_run("lab", [NODE], {})
        ledger.record_state("lab", NODE, "provisioned", run_id=run.id)
        ledger.record_state("lab", NODE, "validating", run_id=run.id)
        ledger.record_verdict(run.id, "lab", NODE, "admitted", [])
    code, output = invoke("status", "--stack", "lab", "--format", "json")
    assert code == 0
    assert '"hgx-h100": {\n   "nodes": 1,\n   "gpus": 8\n  }' in output


def test_repaired_needs_a_quarantined_node(project: Path) -> None:
    code, output = invoke(
        "repaired", NODE, "--note", "GPU 2 swapped", "--stack", "lab", "--mark-only"
    )
    assert code == 2
    assert "ledger:" in output
    code, output = invoke("repaired", "nope", "--note", "x", "--stack", "lab")
    assert code == 2
    assert "node 'nope': not in stack 'lab'" in output


OTHER = "lab-h1-r01-k01-n2"


def _verdict(node: str, verdict: str, project: Path) -> None:
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        run = ledger.start_run("lab", [node], {})
        ledger.record_state("lab", node, "provisioned", run_id=run.id)
        ledger.record_state("lab", node, "validating", run_id=run.id)
        finding = Finding(f"gpu:{node}/2", "gpu.ecc_uncorrected", "3", "0")
        ledger.record_verdict(run.id, "lab", node, verdict, [finding] * (verdict != "admitted"))


@pytest.fixture
def scheduler(monkeypatch: pytest.MonkeyPatch) -> FakeScheduler:
    """The scheduler every command of the test reaches, whatever the stack's Access says."""
    fake = FakeScheduler(NODE, OTHER)
    monkeypatch.setattr(adapter_module, "adapter_for", lambda access: fake)
    return fake


def test_status_shows_the_scheduler_beside_the_ledger_and_flags_disagreements(
    project: Path, scheduler: FakeScheduler
) -> None:
    _verdict(NODE, "quarantined", project)  # but idle in the scheduler
    _verdict(OTHER, "admitted", project)
    scheduler.set(OTHER, "drained", reason="hw ticket 123", held=True)
    code, output = invoke("status", "--stack", "lab")
    assert code == 0
    rows = {n: next(line for line in output.splitlines() if n in line) for n in (NODE, OTHER)}
    assert "! quarantined, but" in rows[NODE]  # the cell goes on in the next line
    assert "! drained by" in rows[OTHER]
    assert "fake (in memory): 2 node(s) disagree with the ledger (marked !)" in output
    code, output = invoke("status", "--stack", "lab", "--format", "json")
    data = json.loads(output)
    assert data["scheduler"] == {"adapter": "fake", "read": True, "error": None}
    other = next(n for n in data["nodes"] if n["node"] == OTHER)
    assert other["scheduler"] == {
        "state": "drained",
        "held": True,
        "reason": "hw ticket 123",
        "owned": False,
    }
    assert other["disagreement"] == "drained by operator: hw ticket 123"


def test_status_agrees_with_a_scheduler_that_holds_what_the_ledger_quarantined(
    project: Path, scheduler: FakeScheduler
) -> None:
    _verdict(NODE, "quarantined", project)
    scheduler.hold({"bringup: gpu.ecc_uncorrected (run r)": [NODE]})
    code, output = invoke("status", "--stack", "lab", "--format", "json")
    assert code == 0
    mine = next(n for n in json.loads(output)["nodes"] if n["node"] == NODE)
    assert mine["scheduler"]["owned"] is True
    assert mine["disagreement"] is None


def test_status_without_its_scheduler_shows_the_ledger_and_exits_1(
    project: Path, scheduler: FakeScheduler
) -> None:
    _verdict(NODE, "quarantined", project)
    scheduler.down = True
    code, output = invoke("status", "--stack", "lab")
    assert code == 1
    assert "quarantined" in next(line for line in output.splitlines() if NODE in line)
    assert (
        "error: scheduler fake (in memory) could not be read: fake: `scontrol show node` "
        "failed (exit 1): connect failure"
    ) in output


def _admitted_but_untold(request: AdmissionRequest, ledger: Ledger, **_: Any) -> AdmissionResult:
    verdicts = {h: NodeVerdict(h, "admitted") for h in request.hosts}
    told = SchedulerReport(
        adapter="slurm",
        described="slurm (scontrol, the system slurm.conf)",
        outcomes={NODE: NodeOutcome(NODE, "kept", "drained", "hw ticket 123")},
        error="slurm: `scontrol update NodeName=x State=RESUME` failed (exit 1): connect failure",
    )
    return AdmissionResult(
        run_id="r1", verdicts=verdicts, domains=(), resumed=False, scheduler=told
    )


def test_admit_says_plainly_that_the_scheduler_was_not_told_and_exits_1(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admission_module, "admit", _admitted_but_untold)
    code, output = invoke("admit", "--stack", "lab", "--limit", f"{NODE},{OTHER}")
    assert code == 1
    text = " ".join(output.split())
    assert "2 of 2 node(s) admitted" in text
    assert (
        "error: scheduler slurm (scontrol, the system slurm.conf) was not told: slurm: `scontrol "
        "update NodeName=x State=RESUME` failed (exit 1): connect failure"
    ) in text
    row = next(line for line in output.splitlines() if NODE in line)
    assert "kept drained by operator:" in row

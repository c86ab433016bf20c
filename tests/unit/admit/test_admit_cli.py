"""`bringup admit | status | repaired` argument handling, without a lab (it refuses early)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bringup.admit.ledger import Ledger
from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.cli import app
from bringup.validation.report import Finding

STACKS = Path(__file__).resolve().parents[3] / "stacks"
NODE = "lab-h1-r01-k01-n1"


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
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
    code, output = invoke("repaired", NODE, "--note", "GPU 2 swapped", "--stack", "lab")
    assert code == 2
    assert "ledger:" in output
    code, output = invoke("repaired", "nope", "--note", "x", "--stack", "lab")
    assert code == 2
    assert "node 'nope': not in stack 'lab'" in output

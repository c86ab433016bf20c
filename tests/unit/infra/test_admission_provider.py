"""The Admission dynamic provider directly: when it judges again, what its outputs hold."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bringup.admit.command import LEDGER_URL_VARIABLE
from bringup.admit.findings import Finding
from bringup.admit.ledger import Ledger
from bringup.infra import admission
from bringup.infra.admission import AdmissionProvider

PROPS: dict[str, Any] = {
    "stack": "lab",
    "rack": "r1",
    "hosts": ["n1", "n2"],
    "inventory": "inventory/lab/hosts.yml",
    "domains": {},
    "policy": "unit",
    "dcgm_level": 1,
    "node_skus": {"n1": "hgx-h100", "n2": "hgx-h100"},
    "node_gpus": {"n1": 8, "n2": 8},
    "provisioned_hash": "p1",
    "suite_hash": "s1",
}


@pytest.fixture(autouse=True)
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRINGUP_ROOT", str(tmp_path))
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    return tmp_path


def test_unchanged_inputs_do_not_judge_again() -> None:
    assert not AdmissionProvider().diff("lab/r1", dict(PROPS), dict(PROPS)).changes


@pytest.mark.parametrize(
    ("key", "value"),
    [("provisioned_hash", "p2"), ("suite_hash", "s2"), ("policy", "quorum:1"), ("hosts", ["n1"])],
)
def test_a_changed_input_judges_again(key: str, value: object) -> None:
    assert AdmissionProvider().diff("lab/r1", dict(PROPS), {**PROPS, key: value}).changes


def test_a_repaired_node_judges_its_rack_again(root: Path) -> None:
    with Ledger.open(path=root / ".state" / "ledger.sqlite3") as ledger:
        run = ledger.start_run("lab", ["n2"], {})
        ledger.record_state("lab", "n2", "provisioned", run_id=run.id)
        ledger.record_state("lab", "n2", "validating", run_id=run.id)
        bad = Finding("gpu:n2/4", "gpu.count", "7", "8")
        ledger.record_verdict(run.id, "lab", "n2", "quarantined", [bad])
        ledger.finish_run(run.id)
    assert not AdmissionProvider().diff("lab/r1", dict(PROPS), dict(PROPS)).changes
    with Ledger.open(path=root / ".state" / "ledger.sqlite3") as ledger:
        ledger.mark_repaired("lab", "n2", "GPU 4 reseated")
    assert AdmissionProvider().diff("lab/r1", dict(PROPS), dict(PROPS)).changes


def test_outputs_carry_verdicts_and_admitted_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts = {"run": "r", "admitted": ["n1"], "quarantined": {"n2": []}, "unreachable": []}
    seen: list[dict[str, Any]] = []

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(json.loads(kwargs["input"]))
        return subprocess.CompletedProcess(argv, 0, json.dumps(verdicts), "")

    monkeypatch.setattr(admission.subprocess, "run", fake_run)
    outs = AdmissionProvider().create(dict(PROPS)).outs
    assert outs["verdicts"] == verdicts
    assert outs["capacity"] == {"hgx-h100": {"nodes": 1, "gpus": 8}}
    assert seen[0]["hosts"] == ["n1", "n2"]
    assert seen[0]["burn_in"] is True


def test_a_run_that_cannot_judge_fails_the_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "Traceback ... LedgerError: no")

    monkeypatch.setattr(admission.subprocess, "run", broken)
    with pytest.raises(RuntimeError, match=r"rack r1: admission could not run: .*LedgerError"):
        AdmissionProvider().create(dict(PROPS))

"""The Admission dynamic provider directly: when it judges again, what its outputs hold."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bringup.access import Access
from bringup.admit import admission as admit_module
from bringup.admit.admission import AdmissionCall, AdmissionResult
from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.admit.verdict import NodeVerdict
from bringup.infra.admission import AdmissionProvider
from bringup.validation.checks import Check
from bringup.validation.report import Finding

PROPS: dict[str, Any] = {
    "stack": "lab",
    "rack": "r1",
    "hosts": ["n1", "n2"],
    "inventory": "inventory/lab/hosts.yml",
    "domains": {},
    "policy": "unit",
    "dcgm_level": 1,
    "provisioned_hash": "p1",
    "suite_hash": "s1",
    "repairs": {},
}
ACCESS = Access(private_key=Path("/lab/id"), far_end="lab")


@pytest.fixture(autouse=True)
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRINGUP_ROOT", str(tmp_path))
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    return tmp_path


def test_unchanged_inputs_do_not_judge_again() -> None:
    old = {**PROPS, "verdicts": {"admitted": ["n1", "n2"]}, "__provider": "x"}
    assert not AdmissionProvider(ACCESS).diff("lab/r1", old, dict(PROPS)).changes


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("provisioned_hash", "p2"),
        ("suite_hash", "s2"),
        ("policy", "quorum:1"),
        ("hosts", ["n1"]),
        ("repairs", {"n2": "2026-12-06T08:00:00Z#7"}),  # `bringup repaired n2`: judged again
    ],
)
def test_a_changed_input_judges_again(key: str, value: object) -> None:
    assert AdmissionProvider(ACCESS).diff("lab/r1", dict(PROPS), {**PROPS, key: value}).changes


def test_outputs_carry_the_verdicts_and_the_run_gets_the_access(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = Finding("gpu:n2/4", Check.GPU_COUNT, "7", "8")
    result = AdmissionResult(
        run_id="r",
        verdicts={
            "n1": NodeVerdict("n1", "admitted"),
            "n2": NodeVerdict("n2", "quarantined", (bad,), "gpu:n2/4 gpu.count"),
        },
        domains=(),
        resumed=False,
    )
    seen: list[AdmissionCall] = []

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(AdmissionCall.from_json(kwargs["input"]))
        return subprocess.CompletedProcess(argv, 0, result.to_json(), "")

    monkeypatch.setattr(admit_module.subprocess, "run", fake_run)
    outs = AdmissionProvider(ACCESS).create(dict(PROPS)).outs
    assert outs["verdicts"]["admitted"] == ["n1"]
    assert outs["verdicts"]["quarantined"]["n2"][0]["check"] == "gpu.count"
    (call,) = seen
    assert call.request.hosts == ("n1", "n2")
    assert call.request.burn_in is True
    assert call.request.access == ACCESS
    assert call.request.inventory == root / "inventory" / "lab" / "hosts.yml"
    assert call.ledger == root / ".state" / "ledger.sqlite3"


def test_a_run_that_cannot_judge_fails_the_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "Traceback ... LedgerError: no")

    monkeypatch.setattr(admit_module.subprocess, "run", broken)
    with pytest.raises(RuntimeError, match=r"rack r1: admission could not run: .*LedgerError"):
        AdmissionProvider(ACCESS).create(dict(PROPS))


def test_the_provider_pickles_with_its_access() -> None:
    import dill

    again = dill.loads(dill.dumps(AdmissionProvider(ACCESS)))
    assert again.access == ACCESS


def test_a_verdict_the_ledger_no_longer_holds_judges_the_rack_again() -> None:
    recorded = {**PROPS, "verdicts": {"admitted": ["n1"], "quarantined": {"n2": []}}}
    agrees = {**PROPS, "states": {"n1": "admitted", "n2": "quarantined"}}
    assert not AdmissionProvider(ACCESS).diff("lab/r1", recorded, agrees).changes
    for states in (
        {"n1": "unknown", "n2": "quarantined"},  # a ledger that lost the node
        {"n1": "quarantined", "n2": "quarantined"},  # judged since by another run
        {"n1": "admitted", "n2": "repaired"},
    ):
        assert (
            AdmissionProvider(ACCESS).diff("lab/r1", recorded, {**PROPS, "states": states}).changes
        )

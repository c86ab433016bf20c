"""admit() telling a scheduler (in memory): holds while validating, releases, reasons, owners."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bringup.admit.admission import AdmissionResult, admit
from bringup.admit.admission import Suite as SuiteRun
from bringup.admit.ledger import Ledger
from bringup.validation.report import Finding, HostReport
from tests.unit.admit.test_admission import ECC, HGX, TRAYS, Suite, request
from tests.unit.scheduler.fakes import FakeScheduler

EVERY = [*HGX, *TRAYS]


class Watching(FakeScheduler):
    """Records what the scheduler held each node with while the suite ran."""

    def __init__(self, *names: str) -> None:
        super().__init__(*names)
        self.during: list[dict[str, str]] = []


def suite_seeing(fake: Watching, bad: dict[str, Finding] | None = None) -> SuiteRun:
    """The stand-in suite, noting the scheduler's holds whenever it runs."""
    inner = Suite(bad)

    def run(inventory: Path, hosts: Sequence[str], **kwargs: Any) -> dict[str, HostReport]:
        fake.during.append(fake.reasons())
        return inner(inventory, hosts, **kwargs)

    return run


def test_nodes_are_held_while_validated_and_the_admitted_released(ledger: Ledger) -> None:
    fake = Watching(*EVERY)
    result = admit(request(), ledger, suite=suite_seeing(fake), scheduler=fake)
    pending = f"bringup: validation pending (run {result.run_id})"
    assert fake.during == [dict.fromkeys(EVERY, pending)]
    assert fake.reasons() == {}
    assert fake.calls[0] == ("drain", tuple(EVERY), pending)
    assert result.scheduler.counts() == {"released": 6}
    assert result.scheduler.outcomes["n1"].describe() == "idle"
    assert result.scheduler.error is None


def test_a_quarantined_node_is_held_with_its_component_and_check(ledger: Ledger) -> None:
    fake = FakeScheduler(*EVERY)
    bad = {"n2": ECC, "t2": ECC}
    result = admit(request("quorum:3"), ledger, suite=Suite(bad), scheduler=fake)
    run = result.run_id
    assert fake.reasons() == {
        "n2": f"bringup: gpu:t2/1 gpu.ecc_uncorrected (run {run})",
        "t2": f"bringup: gpu:t2/1 gpu.ecc_uncorrected (run {run})",
    }
    assert result.scheduler.outcomes["t2"].describe() == (
        f"drained: bringup: gpu:t2/1 gpu.ecc_uncorrected (run {run})"
    )
    # one command for both nodes of one reason
    assert [c for c in fake.calls if c[0] == "drain"][-1][1] == ("n2", "t2")


def test_the_healthy_trays_of_a_held_domain_are_held_naming_the_trays_at_fault(
    ledger: Ledger,
) -> None:
    fake = FakeScheduler(*EVERY)
    result = admit(request("unit"), ledger, suite=Suite({"t2": ECC, "t4": ECC}), scheduler=fake)
    run = result.run_id
    domain = f"bringup: nvlink domain rack-a held: t[2,4] (run {run})"
    assert fake.reasons() == {
        "t1": domain,
        "t2": f"bringup: gpu:t2/1 gpu.ecc_uncorrected (run {run})",
        "t3": domain,
        "t4": f"bringup: gpu:t2/1 gpu.ecc_uncorrected (run {run})",
    }
    assert fake.state["n1"].state == "idle"


def test_an_unreachable_node_is_held_as_unreachable(ledger: Ledger) -> None:
    fake = FakeScheduler("n1")
    result = admit(request(hosts=["n1"]), ledger, suite=lambda *a, **k: {}, scheduler=fake)
    assert fake.reasons() == {"n1": f"bringup: unreachable (run {result.run_id})"}


def test_an_operators_drain_survives_admission_and_is_reported(ledger: Ledger) -> None:
    fake = FakeScheduler(*HGX)
    fake.set("n1", "drained", reason="hw ticket 123", held=True)
    result = admit(request(hosts=HGX), ledger, suite=Suite(), scheduler=fake)
    assert result.with_verdict("admitted") == HGX
    assert fake.reasons() == {"n1": "hw ticket 123"}
    assert result.scheduler.outcomes["n1"].describe() == "kept drained by operator: hw ticket 123"
    assert result.summary()["scheduler"]["nodes"]["n1"] == {
        "outcome": "kept",
        "state": "drained",
        "reason": "hw ticket 123",
    }


def test_a_node_held_by_bringup_keeps_its_reason_until_judged_again(
    ledger: Ledger, tmp_path: Path
) -> None:
    fake = Watching("n1")
    first = admit(request(hosts=["n1"]), ledger, suite=Suite({"n1": ECC}), scheduler=fake)
    ledger.mark_repaired("s", "n1", "GPU 1 swapped")
    repair = request(hosts=["n1"], work=tmp_path)
    again = admit(repair, ledger, suite=suite_seeing(fake), scheduler=fake)
    assert fake.during == [{"n1": f"bringup: gpu:t2/1 gpu.ecc_uncorrected (run {first.run_id})"}]
    assert again.scheduler.outcomes["n1"].outcome == "released"


def test_a_node_the_scheduler_lacks_is_reported_missing(ledger: Ledger) -> None:
    fake = FakeScheduler("n1")
    result = admit(request(hosts=HGX), ledger, suite=Suite(), scheduler=fake)
    assert result.scheduler.outcomes["n2"].describe() == "not in the scheduler"
    assert result.with_verdict("admitted") == HGX


def test_an_unreachable_scheduler_leaves_the_verdicts_and_the_next_run_tells_it(
    ledger: Ledger,
) -> None:
    fake = FakeScheduler(*HGX)
    fake.down = True
    failed = admit(request(hosts=HGX), ledger, suite=Suite({"n2": ECC}), scheduler=fake)
    assert {s.node: s.state for s in ledger.status("s")} == {
        "n1": "admitted",
        "n2": "quarantined",
    }
    assert failed.scheduler.error == ("fake: `scontrol show node` failed (exit 1): connect failure")
    assert failed.summary()["scheduler"]["told"] is False
    fake.down = False
    told = admit(request(hosts=HGX), ledger, suite=Suite({"n2": ECC}), scheduler=fake)
    assert told.scheduler.error is None
    assert fake.reasons() == {"n2": f"bringup: gpu:t2/1 gpu.ecc_uncorrected (run {told.run_id})"}


def test_a_resumed_run_tells_the_verdicts_judged_before_the_interruption(
    ledger: Ledger,
) -> None:
    fake = FakeScheduler(*EVERY)
    inner = Suite(die_after=1)

    def suite(inventory: Path, hosts: Sequence[str], **kwargs: Any) -> dict[str, HostReport]:
        fake.down = True  # the first batch's verdicts cannot be told; the second never comes
        return inner(inventory, hosts, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        admit(request(batch=2), ledger, suite=suite, scheduler=fake)
    assert set(fake.reasons()) == set(EVERY)  # held pending, n1 and n2 judged meanwhile
    fake.down = False
    result = admit(request(batch=2), ledger, suite=Suite(), scheduler=fake)
    assert result.resumed
    assert ("resume", ("n1", "n2"), "") in fake.calls
    assert result.scheduler.counts() == {"released": 6}
    assert fake.reasons() == {}


def test_the_result_crosses_a_process_boundary_with_what_the_scheduler_did(
    ledger: Ledger,
) -> None:
    fake = FakeScheduler(*HGX)
    fake.set("n2", "drained", reason="hw ticket 9", held=True)
    result = admit(request(hosts=HGX), ledger, suite=Suite(), scheduler=fake)
    assert AdmissionResult.from_json(result.to_json()) == result

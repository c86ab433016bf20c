"""admit() with a stand-in suite (no lab): batches, verdicts in the ledger, domains, resuming."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bringup.admit.admission import AdmissionRequest, admit
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy
from bringup.validation.report import Finding, HostReport, TestOutcome

HGX = ["n1", "n2"]
TRAYS = [f"t{i}" for i in range(1, 5)]
DOMAINS = {"rack-a": TRAYS}


class Suite:
    """Reports every host healthy except `bad`; counts calls and keeps what each was given;
    can raise after some calls."""

    def __init__(self, bad: dict[str, Finding] | None = None, die_after: int | None = None):
        self.bad = bad or {}
        self.calls: list[list[str]] = []
        self.given: list[dict[str, Any]] = []
        self.die_after = die_after

    def __call__(
        self, inventory: Path, hosts: Sequence[str], **given: Any
    ) -> dict[str, HostReport]:
        if self.die_after is not None and len(self.calls) >= self.die_after:
            raise KeyboardInterrupt("killed")
        self.calls.append(list(hosts))
        self.given.append(given)
        reports = {}
        for host in hosts:
            finding = self.bad.get(host)
            outcome = TestOutcome(
                f"tests/validation/test_gpu.py::x[{host}]",
                "test_gpu",
                "failed" if finding else "passed",
                (finding,) if finding else (),
            )
            reports[host] = HostReport(host, (outcome,))
        return reports


def request(
    policy: str = "unit",
    batch: int = 64,
    hosts: Sequence[str] = (*HGX, *TRAYS),
    work: Path = Path("/nonexistent/admission"),
) -> AdmissionRequest:
    """A request that runs no burn-in; `work` is written to only when a node was repaired."""
    return AdmissionRequest(
        stack="s",
        hosts=tuple(hosts),
        inventory=Path("/nonexistent/hosts.yml"),
        work=work,
        domains=DOMAINS,
        policy=DomainPolicy.parse(policy),
        burn_in=False,
        batch=batch,
    )


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger.open(path=tmp_path / "ledger.sqlite3") as opened:
        yield opened


ECC = Finding("gpu:t2/1", "gpu.ecc_uncorrected", "3", "0", attributes={"serial": "1650"})


def test_a_healthy_run_admits_every_node_and_records_it(ledger: Ledger) -> None:
    result = admit(request(), ledger, suite=Suite())
    assert result.with_verdict("admitted") == sorted([*HGX, *TRAYS])
    assert {s.node: s.state for s in ledger.status("s")} == dict.fromkeys(
        [*HGX, *TRAYS], "admitted"
    )
    states = [state for _, state, _, _ in ledger.history("s", "n1")]
    assert states == ["provisioned", "validating", "admitted"]
    assert result.domains[0].status == "complete"


def test_unit_policy_holds_the_domain_of_a_faulted_tray(ledger: Ledger) -> None:
    result = admit(request("unit"), ledger, suite=Suite({"t2": ECC}))
    assert result.with_verdict("admitted") == HGX
    assert result.verdicts["t2"].findings == (ECC,)
    assert result.verdicts["t1"].findings[0].component == "nvlink-domain:rack-a"
    assert result.domains[0].status == "held"


def test_quorum_policy_admits_the_healthy_trays(ledger: Ledger) -> None:
    result = admit(request("quorum:3"), ledger, suite=Suite({"t2": ECC}))
    assert result.with_verdict("quarantined") == ["t2"]
    assert result.domains[0].status == "degraded"
    assert ledger.node_state("s", "t2").findings == (ECC,)  # type: ignore[union-attr]


def test_batches_never_split_a_domain(ledger: Ledger) -> None:
    suite = Suite()
    admit(request(batch=3), ledger, suite=suite)
    assert suite.calls == [["n1", "n2"], TRAYS]


def test_an_interrupted_run_resumes_with_the_nodes_not_yet_judged(ledger: Ledger) -> None:
    with pytest.raises(KeyboardInterrupt):
        admit(request(batch=2), ledger, suite=Suite({"t2": ECC}, die_after=1))
    run = ledger.unfinished_run("s")
    assert run is not None
    assert ledger.judged(run.id) == set(HGX)
    suite = Suite({"t2": ECC})
    result = admit(request(batch=2), ledger, suite=suite)
    assert result.resumed
    assert result.run_id == run.id
    assert suite.calls == [TRAYS]
    assert result.with_verdict("admitted") == HGX
    assert sorted(ledger.verdicts(run.id)) == sorted([*HGX, *TRAYS])
    assert ledger.unfinished_run("s") is None


def test_a_different_request_starts_a_new_run(ledger: Ledger) -> None:
    with pytest.raises(KeyboardInterrupt):
        admit(request(batch=2), ledger, suite=Suite(die_after=1))
    first = ledger.unfinished_run("s")
    result = admit(request("quorum:3", batch=2), ledger, suite=Suite())
    assert first is not None
    assert not result.resumed
    assert result.run_id != first.id


def test_a_repaired_node_is_revalidated(ledger: Ledger, tmp_path: Path) -> None:
    admit(request("quorum:1", hosts=["n1"]), ledger, suite=Suite({"n1": ECC}))
    ledger.mark_repaired("s", "n1", "GPU 1 swapped")
    result = admit(request("quorum:1", hosts=["n1"], work=tmp_path), ledger, suite=Suite())
    assert result.with_verdict("admitted") == ["n1"]
    states = [state for _, state, _, _ in ledger.history("s", "n1")]
    assert states[-3:] == ["repaired", "revalidated", "admitted"]


def test_a_node_without_a_report_is_unreachable(ledger: Ledger) -> None:
    def suite(inventory: Path, hosts: Sequence[str], **_: Any) -> dict[str, HostReport]:
        return {}

    result = admit(request(hosts=["n1"]), ledger, suite=suite)
    assert result.with_verdict("unreachable") == ["n1"]


def test_burn_in_is_skipped_only_for_nodes_this_run_left_mid_validation(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:

    from bringup.admit import admission

    burnt: list[list[str]] = []
    monkeypatch.setattr(
        admission, "_burn_in", lambda request, hosts, out: burnt.append(list(hosts)) or {}
    )
    first = request(batch=2).model_copy(update={"burn_in": True})
    with pytest.raises(KeyboardInterrupt):  # killed in the first batch's suite
        admit(first, ledger, suite=Suite(die_after=0))
    assert burnt == [HGX]
    admit(first, ledger, suite=Suite())  # resumed: n1, n2 keep their burn-in
    assert burnt == [HGX, TRAYS]
    with pytest.raises(KeyboardInterrupt):
        admit(first, ledger, suite=Suite(die_after=0))
    other = first.model_copy(update={"policy": DomainPolicy.parse("quorum:2")})  # a new run
    admit(other, ledger, suite=Suite())
    assert burnt[-2:] == [HGX, TRAYS]
    assert burnt[-3] == HGX

"""The watch's decisions on the lab plan, over a real SQLite ledger and a scheduler held in memory
(the real Slurm path is the lab's: test_lab_drill.py): in service or not, incident, fold, drain,
an operator's drain kept, the circuit breaker, the escalation to an NVLink domain, the evidence
bundle, and the HTTP front that refuses what MUNGE does not vouch for."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bringup.admit.ledger import Ledger
from bringup.health.breaker import BreakerSettings, Fleet
from bringup.health.report import HEADER, Sender
from bringup.health.verdict import (
    Action,
    HealthFinding,
    HealthVerdict,
    Severity,
    Trigger,
)
from bringup.health.watch import Watch, drain_reason, serve
from bringup.plan import make_plan
from bringup.plan.expectation import management_address
from bringup.scheduler.adapter import OwnedHolds, SchedulerNode
from bringup.spec import load_cluster
from bringup.validation.report import Finding
from bringup.workspace import REPOSITORY

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))
NAMES = [n.name for n in PLAN.nodes]
HGX1, HGX2 = NAMES[:2]
TRAYS = NAMES[2:20]
ADDRESSES = {n.name: management_address(PLAN, n) or "" for n in PLAN.nodes}


class MemorySlurm(OwnedHolds):
    """A scheduler whose nodes are a dict: drain and resume change it, nothing else does."""

    name = "memory"

    def __init__(self, names: Sequence[str]) -> None:
        self.state = {n: SchedulerNode(n, "idle") for n in names}
        self.drains: list[tuple[str, list[str]]] = []

    def describe(self) -> str:
        return "memory"

    def nodes(self, names: Sequence[str]) -> dict[str, SchedulerNode]:
        return {n: self.state[n] for n in names if n in self.state}

    def _drain(self, reason: str, names: Sequence[str]) -> None:
        self.drains.append((reason, list(names)))
        for n in names:
            self.state[n] = SchedulerNode(n, "drained", True, reason)

    def _resume(self, names: Sequence[str]) -> None:
        for n in names:
            self.state[n] = SchedulerNode(n, "idle")


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path=path) as ledger:
        run = ledger.start_run("lab", NAMES, {})
        for node in NAMES:
            ledger.record_state("lab", node, "provisioned", run_id=run.id)
            ledger.record_state("lab", node, "validating", run_id=run.id)
            ledger.record_verdict(run.id, "lab", node, "admitted", [])
        ledger.finish_run(run.id)
    return path


def make_watch(tmp_path: Path, ledger_path: Path, slurm: MemorySlurm, **settings: float) -> Watch:
    def opener() -> AbstractContextManager[Ledger]:
        return Ledger.open(path=ledger_path)

    jobs = {HGX2: [{"id": "42", "name": "train", "state": "COMPLETING", "user": "u", "ended": ""}]}
    return Watch(
        "lab",
        Fleet.from_plan(PLAN),
        ADDRESSES,
        opener,
        slurm,
        tmp_path / "incidents",
        BreakerSettings(**settings),  # type: ignore[arg-type]
        jobs=lambda node: jobs.get(node, []),
    )


def verdict(node: str, *findings: Finding, trigger: Trigger = Trigger.EPILOG) -> HealthVerdict:
    return HealthVerdict(
        node=node,
        trigger=trigger,
        observed_at=datetime(2026, 12, 6, 3, 0, tzinfo=UTC),
        duration_s=1.2,
        checks=("gpu.count", "gpu.xid"),
        findings=tuple(HealthFinding(f, Severity.CRITICAL, Action.REBOOT) for f in findings),
        evidence={"nvidia-smi-xml": "<xml/>", "xid": "NVRM: Xid (PCI:0000:18:00): 79"},
    )


def lost(node: str, gpu: int = 3) -> Finding:
    return Finding(f"gpu:{node}/{gpu}", "gpu.count", "lost (fallen off the bus)", "visible")


def state(ledger_path: Path, node: str) -> str:
    with Ledger.open(path=ledger_path) as ledger:
        status = ledger.node_state("lab", node)
    return status.state if status else "unknown"


def test_a_failing_node_is_drained_naming_the_part_with_its_incident(
    tmp_path: Path, ledger_path: Path
) -> None:
    slurm = MemorySlurm(NAMES)
    watch = make_watch(tmp_path, ledger_path, slurm)
    decision = watch.receive(verdict(HGX2, lost(HGX2)))
    assert decision.action == "drained"
    assert decision.incident is not None
    assert (
        slurm.state[HGX2].reason
        == f"bringup: gpu:{HGX2}/3 gpu.count (incident {decision.incident})"
    )
    assert state(ledger_path, HGX2) == "quarantined"
    with Ledger.open(path=ledger_path) as ledger:
        [incident] = ledger.incidents("lab", node=HGX2)
    assert (incident.status, incident.scheduler, incident.check) == ("open", "drained", "gpu.count")
    assert incident.drained_at is not None
    assert [j["id"] for j in incident.jobs] == ["42"]
    bundle = Path(incident.bundle)
    assert json.loads((bundle / "verdict.json").read_text())["node"] == HGX2
    assert "Xid" in (bundle / "xid.txt").read_text()


def test_a_healthy_verdict_and_a_node_not_in_service_change_nothing(
    tmp_path: Path, ledger_path: Path
) -> None:
    slurm = MemorySlurm(NAMES)
    watch = make_watch(tmp_path, ledger_path, slurm)
    assert watch.receive(verdict(HGX1)).action == "healthy"
    with Ledger.open(path=ledger_path) as ledger:
        run = ledger.start_run("lab", [HGX1], {})
        ledger.record_state("lab", HGX1, "burn-in", run_id=run.id)
    decision = watch.receive(verdict(HGX1, lost(HGX1)))
    assert (decision.action, decision.reason) == ("ignored", f"{HGX1} is burn-in")
    assert slurm.drains == []
    with Ledger.open(path=ledger_path) as ledger:
        assert ledger.incidents("lab") == []


def test_a_second_failing_verdict_folds_into_the_open_incident(
    tmp_path: Path, ledger_path: Path
) -> None:
    slurm = MemorySlurm(NAMES)
    watch = make_watch(tmp_path, ledger_path, slurm)
    first = watch.receive(verdict(HGX2, lost(HGX2)))
    again = watch.receive(verdict(HGX2, lost(HGX2), trigger=Trigger.INTERVAL))
    assert (again.action, again.incident) == ("known", first.incident)
    assert len(slurm.drains) == 1
    with Ledger.open(path=ledger_path) as ledger:
        [incident] = ledger.incidents("lab", node=HGX2)
    assert incident.seen == 2


def test_an_operator_s_drain_is_kept_with_its_reason(tmp_path: Path, ledger_path: Path) -> None:
    slurm = MemorySlurm(NAMES)
    slurm.state[HGX1] = SchedulerNode(HGX1, "drained", True, "hw ticket 4711")
    watch = make_watch(tmp_path, ledger_path, slurm)
    decision = watch.receive(verdict(HGX1, lost(HGX1)))
    assert (decision.action, decision.reason) == ("kept", "hw ticket 4711")
    assert slurm.state[HGX1].reason == "hw ticket 4711"
    assert slurm.drains == []
    with Ledger.open(path=ledger_path) as ledger:
        [incident] = ledger.incidents("lab", node=HGX1)
    assert (incident.scheduler, incident.drained_at) == (
        "kept drained by operator: hw ticket 4711",
        None,
    )


def test_the_breaker_holds_the_drain_past_the_cluster_share(
    tmp_path: Path, ledger_path: Path
) -> None:
    slurm = MemorySlurm(NAMES)
    watch = make_watch(tmp_path, ledger_path, slurm, cluster_share=0.15, sku_share=0.5)
    decisions = [watch.receive(verdict(t, lost(t, 0))) for t in TRAYS[:4]]
    assert [d.action for d in decisions] == ["drained", "drained", "drained", "held"]
    held = TRAYS[3]
    assert not slurm.state[held].held
    assert state(ledger_path, held) == "admitted"
    assert "circuit breaker" in decisions[3].reason
    with Ledger.open(path=ledger_path) as ledger:
        [incident] = ledger.incidents("lab", node=held)
    assert (incident.status, incident.scheduler) == ("held", "held by circuit breaker")
    assert incident.breaker == decisions[3].reason


def test_a_repaired_node_no_longer_counts_against_the_breaker(
    tmp_path: Path, ledger_path: Path
) -> None:
    slurm = MemorySlurm(NAMES)
    watch = make_watch(tmp_path, ledger_path, slurm, cluster_share=0.15, sku_share=0.5)
    for tray in TRAYS[:3]:
        assert watch.receive(verdict(tray, lost(tray, 0))).action == "drained"
    with Ledger.open(path=ledger_path) as ledger:
        ledger.close_incidents("lab", TRAYS[0], "GPU reseated")
    assert watch.receive(verdict(TRAYS[3], lost(TRAYS[3], 0))).action == "drained"


def test_half_a_domain_failing_names_the_domain(tmp_path: Path, ledger_path: Path) -> None:
    slurm = MemorySlurm(NAMES)
    watch = make_watch(
        tmp_path, ledger_path, slurm, cluster_share=1.0, sku_share=1.0, domain_trays=18
    )
    for tray in TRAYS[:9]:
        watch.receive(verdict(tray, lost(tray, 0)))
    with Ledger.open(path=ledger_path) as ledger:
        ninth = ledger.incidents("lab", node=TRAYS[8])[0]
        eighth = ledger.incidents("lab", node=TRAYS[7])[0]
    domain = PLAN.shared_domains[0].name
    assert ninth.domain == domain
    assert eighth.domain == ""
    assert slurm.state[TRAYS[8]].reason.startswith(f"bringup: nvlink-domain:{domain} gpu.count")


def test_a_sender_may_report_only_on_itself(tmp_path: Path, ledger_path: Path) -> None:
    watch = make_watch(tmp_path, ledger_path, MemorySlurm(NAMES))
    watch.check_sender(HGX1, Sender(0, ADDRESSES[HGX1]))
    watch.check_sender(HGX1, Sender(0, "127.0.0.1"))  # the controller itself
    with pytest.raises(Exception, match="comes from"):
        watch.check_sender(HGX1, Sender(0, ADDRESSES[HGX2]))
    with pytest.raises(Exception, match="uid 1000"):
        watch.check_sender(HGX1, Sender(1000, ADDRESSES[HGX1]))


def test_the_drain_reason_fits_slurm_s_column() -> None:
    reason = drain_reason("nic:" + "x" * 200, "nic.state", 12)
    assert len(reason) <= 128
    assert reason.startswith("bringup: nic:")
    assert reason.endswith(" nic.state (incident 12)")


@pytest.fixture
def server(tmp_path: Path, ledger_path: Path) -> Iterator[tuple[str, MemorySlurm]]:
    import threading

    slurm = MemorySlurm(NAMES)
    http = serve(make_watch(tmp_path, ledger_path, slurm), "127.0.0.1", 0)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}", slurm
    finally:
        http.shutdown()
        http.server_close()


def test_a_verdict_without_a_valid_credential_is_refused(server: tuple[str, MemorySlurm]) -> None:
    url, slurm = server
    body = json.dumps(verdict(HGX2, lost(HGX2)).to_json()).encode()
    for credential in (None, "MUNGE:forged:"):
        headers = {"Content-Type": "application/json"}
        if credential:
            headers[HEADER] = credential
        request = urllib.request.Request(f"{url}/v1/verdicts", body, headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    assert slurm.drains == []


def test_the_watch_answers_its_health_probe(server: tuple[str, MemorySlurm]) -> None:
    url, _ = server
    with urllib.request.urlopen(f"{url}/v1/health", timeout=10) as answer:
        assert json.loads(answer.read()) == {"ok": True, "stack": "lab"}

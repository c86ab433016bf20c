"""Admission drives the lab's real Slurm (marked `root` and `slurm`): verdicts become drains and
resumes, an operator's drain survives, a repaired node comes back, and admission runs as Slurm
jobs on the nodes themselves.

One lab of the two HGX H100 nodes of the `lab` stack, provisioned once (slurm_node included).
The project lives outside /tmp: a lab node has a /tmp of its own, and the jobs of fleet-scale
admission read the inventory where the controller wrote it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bringup.admit.admission import AdmissionRequest, AdmissionResult, admit
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy
from bringup.lab.faults import Options
from bringup.lab.lab import Lab
from bringup.plan import make_plan
from bringup.provision.inventory import write_inventory
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY
from tests.unit.admit.provisioned import provisioned_lab

pytestmark = [pytest.mark.root, pytest.mark.slurm]

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))
HGX1, HGX2 = (n.name for n in PLAN.nodes[:2])
HOSTS = [HGX1, HGX2]
SETTLE_S = 60.0
"""How long a node may take to answer slurmctld again on a busy host."""


class Site:
    """The lab of two nodes, its ledger, and Slurm as its controller sees it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.stack = lab.workspace.stack("lab")
        self.inventory = write_inventory(PLAN, self.stack)
        self.ledger = lab.workspace.root / "ledger.sqlite3"

    def admit(self, via: str = "ssh") -> AdmissionResult:
        request = AdmissionRequest(
            stack="lab",
            hosts=tuple(HOSTS),
            inventory=self.inventory,
            work=self.stack.admission,
            policy=DomainPolicy.parse("unit"),
            dcgm_level=1,
            via=via,  # type: ignore[arg-type]
            access=self.lab.access(),
        )
        with Ledger.open(path=self.ledger) as opened:
            return admit(request, opened)

    def slurm(self, *args: str) -> str:
        return self.lab.slurm.tool(*args).stdout

    def sinfo(self) -> dict[str, tuple[str, str]]:
        """Node -> (state, reason) as sinfo prints them (the reason only while drained), once
        every node answers and has finished its last job: a resumed node shows `idle*` until
        its slurmd registers again, and a node whose job step just ended is `completing` while
        the epilog runs bringup's health check."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            out = self.slurm("sinfo", "-N", "-h", "-o", "%N|%T|%E", "-n", ",".join(HOSTS))
            rows = [line.split("|") for line in out.splitlines()]
            settled = all(not s.endswith("*") and "completing" not in s for _, s, _ in rows)
            if settled or time.monotonic() > deadline:
                return {n: (s, r if s.startswith("drain") else "") for n, s, r in rows}
            time.sleep(0.5)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with provisioned_lab("lab", PLAN, HOSTS) as lab:
        yield Site(lab)


def test_admitted_nodes_are_idle_in_slurm(site: Site) -> None:
    assert site.sinfo() == dict.fromkeys(HOSTS, ("drained", "bringup: validation pending"))
    result = site.admit()
    assert result.with_verdict("admitted") == HOSTS
    assert result.scheduler.error is None
    assert site.sinfo() == dict.fromkeys(HOSTS, ("idle", ""))


def test_a_faulted_node_is_drained_naming_its_component(site: Site) -> None:
    site.lab.fault(HGX2, "ecc-uncorrectable", Options(gpu=2))
    try:
        result = site.admit()
    finally:
        site.lab.heal(HGX2)
    assert result.with_verdict("quarantined") == [HGX2]
    state, reason = site.sinfo()[HGX2]
    assert state == "drained"
    assert reason.startswith(f"bringup: gpu:{HGX2}/2 ")
    assert f"(run {result.run_id})" in reason
    assert site.sinfo()[HGX1] == ("idle", "")


def test_an_operator_s_drain_survives_admission(site: Site) -> None:
    site.slurm("scontrol", "update", f"NodeName={HGX1}", "State=DRAIN", "Reason=hw ticket 4711")
    try:
        result = site.admit()
        assert result.verdicts[HGX1].verdict == "admitted"
        assert site.sinfo()[HGX1] == ("drained", "hw ticket 4711")
        assert result.scheduler.outcomes[HGX1].outcome == "kept"
    finally:
        site.slurm("scontrol", "update", f"NodeName={HGX1}", "State=RESUME")


def test_a_repaired_node_that_passes_is_resumed(site: Site) -> None:
    site.lab.fault(HGX2, "ecc-uncorrectable", Options(gpu=1))
    try:
        assert site.admit().with_verdict("quarantined") == [HGX2]
    finally:
        site.lab.heal(HGX2)
    assert site.sinfo()[HGX2][0] == "drained"
    with Ledger.open(path=site.ledger) as opened:
        opened.mark_repaired("lab", HGX2, "GPU 1 swapped")
    result = site.admit()
    assert result.verdicts[HGX2].verdict == "admitted"
    assert site.sinfo()[HGX2] == ("idle", "")


def test_admission_runs_as_slurm_jobs_on_the_nodes(site: Site) -> None:
    site.lab.fault(HGX2, "ecc-uncorrectable", Options(gpu=3))
    try:
        result = site.admit(via="scheduler")
    finally:
        site.lab.heal(HGX2)
    reasons = {n: v.reason for n, v in result.verdicts.items()}
    assert result.with_verdict("admitted") == [HGX1], (reasons, result.verdicts[HGX1].findings)
    assert [f.component for f in result.verdicts[HGX2].findings][:1] == [f"gpu:{HGX2}/3"]
    assert site.sinfo()[HGX1] == ("idle", "")
    assert site.sinfo()[HGX2][0] == "drained"
    # each node's own report came back through its job step; the reservation is gone
    reports = sorted(p.name for p in (site.stack.admission / "reports").glob(f"{result.run_id}-*"))
    assert reports == [f"{result.run_id}-0-{HGX1}.json", f"{result.run_id}-0-{HGX2}.json"]
    assert site.slurm("scontrol", "show", "reservation").strip() == "No reservations in the system"

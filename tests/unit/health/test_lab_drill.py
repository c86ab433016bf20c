"""The in-service loop on the lab's real Slurm (marked `root` and `slurm`): drills that fault a
node under a running job, the repair loop back to admitted, the circuit breaker, and an
operator's drain left alone.

One lab of six nodes of the `lab` stack (the two HGX H100 nodes and four GB200 trays), provisioned
and admitted once, with the watch the lab starts at its gateway. Every command runs as users run
it, `python -m bringup ...` in the project folder. The project lives outside /tmp, as an
operator's would. The NVLink domain has 4 of its 18 trays here, so admission and repair judge it
under `quorum:1`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bringup.admit.ledger import Incident, Ledger
from bringup.plan import make_plan
from bringup.scheduler.slurm import parse_nodes
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY, Workspace

pytestmark = [pytest.mark.root, pytest.mark.slurm]

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))
HOSTS = [n.name for n in PLAN.nodes[:6]]
HGX1, HGX2, TRAY1, TRAY2, TRAY3, TRAY4 = HOSTS
TRAYS = HOSTS[2:]
EVERY = 5
POLICY = "quorum:1"
SETTLE_S = 90.0


class Site:
    """The project, its lab, and bringup's commands run in it."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.ws = Workspace(project)

    def bringup(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        stacks = [] if args[:2] == ("lab", "down") else ["--stacks-dir", str(REPOSITORY / "stacks")]
        argv = [sys.executable, "-m", "bringup", *args, *stacks]
        done = subprocess.run(
            argv,
            cwd=self.project,
            env={**os.environ, "BRINGUP_ROOT": str(self.project)},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def slurm(self, tool: str, *args: str) -> str:
        from bringup.lab.lab import Lab

        return Lab(self.ws, "lab").slurm.tool(tool, *args).stdout

    def node(self, name: str) -> tuple[bool, str]:
        """(held, reason) of a node in Slurm."""
        found = parse_nodes(self.slurm("scontrol", "--json", "show", "node", name))[name]
        return found.held, found.reason

    def incidents(self, node: str | None = None) -> list[Incident]:
        with Ledger.open(path=self.ws.ledger) as ledger:
            return ledger.incidents("lab", node=node)

    def state(self, node: str) -> str:
        with Ledger.open(path=self.ws.ledger) as ledger:
            status = ledger.node_state("lab", node)
        return status.state if status else "unknown"

    def history(self, node: str) -> list[str]:
        with Ledger.open(path=self.ws.ledger) as ledger:
            return [state for _, state, _, _ in ledger.history("lab", node)]

    def drill(self, fault: str, *extra: str) -> dict[str, object]:
        done = self.bringup("lab", "drill", "--stack", "lab", "--fault", fault, *extra, check=False)
        assert done.returncode in (0, 1), done.stderr
        summary: dict[str, object] = json.loads(done.stdout)
        return summary

    def repair(self, node: str) -> subprocess.CompletedProcess[str]:
        return self.bringup(
            "repaired", node, "--note", "part replaced", "--stack", "lab",
            "--domain-policy", POLICY, "--level", "1", check=False,
        )  # fmt: skip

    def idle(self, nodes: list[str]) -> None:
        """Wait until every node answers slurmctld and takes jobs again."""
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            out = self.slurm("sinfo", "-N", "-h", "-o", "%N|%T", "-n", ",".join(nodes))
            states = dict(line.split("|") for line in out.splitlines())
            if all(s == "idle" for s in states.values()):
                return
            time.sleep(0.5)
        raise AssertionError(f"not idle after {SETTLE_S:.0f} s: {states}")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    project = Path(tempfile.mkdtemp(prefix="bringup-drill-", dir="/var/tmp"))
    site = Site(project)
    site.bringup("lab", "down", "--stack", "lab")
    try:
        site.bringup("lab", "up", "--stack", "lab", "--nodes", str(len(HOSTS)))
        site.bringup("provision", "--stack", "lab", "--limit", ",".join(HOSTS))
        site.bringup(
            "admit", "--stack", "lab", "--limit", ",".join(HOSTS),
            "--domain-policy", POLICY, "--no-burn-in",
        )  # fmt: skip
        site.idle(HOSTS)
        yield site
    finally:
        site.bringup("lab", "down", "--stack", "lab", check=False)
        shutil.rmtree(project, ignore_errors=True)


def _drilled(site: Site, summary: dict[str, object], component: str, check: str) -> None:
    """The drill's node drained by bringup naming the part, the job completed with at most one
    checkpoint interval redone; then the node repaired back to admitted."""
    node = str(summary["node"])
    assert summary["job_completed"] is True, summary
    assert summary["component"] == component.format(node=node), summary
    assert summary["check"] == check, summary
    assert str(summary["drain_reason"]).startswith(f"bringup: {summary['component']} {check}")
    assert isinstance(summary["seconds_fault_to_drain"], float), summary
    assert int(str(summary["steps_redone"])) <= EVERY, summary
    [incident] = [i for i in site.incidents(node) if i.id == summary["incident"]]
    assert incident.scheduler == "drained"
    assert incident.status == "open"
    assert Path(incident.bundle, "verdict.json").is_file()
    assert site.state(node) == "quarantined"
    repaired = site.repair(node)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert site.state(node) == "admitted"
    assert site.node(node)[0] is False
    assert [i.status for i in site.incidents(node) if i.id == incident.id] == ["closed"]


def test_a_gpu_off_the_bus_drains_its_node_and_the_job_resumes_elsewhere(site: Site) -> None:
    summary = site.drill("gpu-off-bus", "--gpu", "3", "--every", str(EVERY))
    assert summary["job_interrupted"] is True, summary
    assert isinstance(summary["seconds_fault_to_running"], float), summary
    after = summary["job_nodes_after"]
    assert isinstance(after, list), summary
    assert after, summary
    assert summary["node"] not in after, summary
    _drilled(site, summary, "gpu:{node}/3", "gpu.count")


def test_an_ib_port_down_drains_its_node_naming_the_nic(site: Site) -> None:
    summary = site.drill("ib-port-down", "--every", str(EVERY))
    assert summary["job_interrupted"] is True, summary
    # the fault takes the first compute NIC's port down: rail 1, its port no longer Active
    _drilled(site, summary, "nic:{node}/rail1", "nic.state")


def test_a_dead_fabric_manager_drains_its_node_and_the_job_finishes(site: Site) -> None:
    summary = site.drill("daemon-dead", "--every", str(EVERY))
    assert summary["node"] in (HGX1, HGX2)
    assert summary["job_interrupted"] is False, summary
    _drilled(site, summary, "service:{node}/nvidia-fabricmanager", "nvlink.fabric_manager")


def test_the_ledger_keeps_the_whole_life_of_a_drilled_node(site: Site) -> None:
    drilled = {i.node for i in site.incidents()}
    assert drilled, "the drills opened no incident"
    node = sorted(drilled)[0]
    life = site.history(node)
    tail = ["admitted", "quarantined", "repaired", "burn-in", "revalidated", "admitted"]
    assert life[-len(tail) :] == tail


def test_the_circuit_breaker_holds_when_several_nodes_fail_at_once(site: Site) -> None:
    from bringup.lab.faults import Options
    from bringup.lab.lab import Lab

    lab = Lab(site.ws, "lab")
    for tray in TRAYS:
        lab.fault(tray, "ecc-uncorrectable", Options(gpu=0))
    try:
        # a job on the four trays ends; its epilog checks each of them at once
        site.slurm("srun", "-p", "gb200-nvl72", "-N", "4", "--time=2", "true")
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            found = [i for i in site.incidents() if i.node in TRAYS and i.status != "closed"]
            if len(found) == len(TRAYS):
                break
            time.sleep(0.5)
        by_status = {i.node: i for i in found}
        assert sorted(by_status) == sorted(TRAYS)
        held = [n for n, i in by_status.items() if i.status == "held"]
        drained = [n for n, i in by_status.items() if i.scheduler == "drained"]
        # the lab's breaker: at most 3 of its 21 nodes drained within 5 minutes
        assert (len(drained), len(held)) == (3, 1), by_status
        [kept] = held
        assert site.node(kept)[0] is False  # still takes jobs
        assert "circuit breaker" in by_status[kept].breaker
        assert site.state(kept) == "admitted"
        listing = site.bringup("incidents", "--stack", "lab")
        assert "circuit breaker open" in listing.stdout
    finally:
        lab.heal()
        for tray in TRAYS:
            site.repair(tray)
    assert all(site.state(t) == "admitted" for t in TRAYS)


def test_an_operator_s_drain_is_left_alone(site: Site) -> None:
    from bringup.lab.faults import Options
    from bringup.lab.lab import Lab

    lab = Lab(site.ws, "lab")
    site.slurm("scontrol", "update", f"NodeName={HGX1}", "State=DRAIN", "Reason=hw ticket 4711")
    lab.fault(HGX1, "gpu-off-bus", Options(gpu=1))
    try:
        report = lab.state()["watch_url"]
        checked = site.bringup(
            "health", "--stack", "lab", "--node", HGX1, "--report", report, check=False
        )
        assert checked.returncode == 1, checked.stdout + checked.stderr
        [incident] = [i for i in site.incidents(HGX1) if i.status != "closed"]
        assert incident.scheduler == "kept drained by operator: hw ticket 4711"
        assert incident.drained_at is None
        assert site.node(HGX1) == (True, "hw ticket 4711")
        lab.heal(HGX1)
        repaired = site.repair(HGX1)
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert site.node(HGX1) == (True, "hw ticket 4711")
    finally:
        lab.heal()
        site.slurm("scontrol", "update", f"NodeName={HGX1}", "State=RESUME")

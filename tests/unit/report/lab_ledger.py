"""A real SQLite ledger of the lab stack, written through the Ledger as bringup writes it, for
the report's tests: one node admitted, one quarantined at admission with findings (a GPU, and a
NIC whose cable the plan knows), one unreachable, one admitted node failing in service (an open
incident with its evidence folder), and the rest never seen (pending).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bringup.admit.ledger import Incident, Ledger
from bringup.plan import make_plan
from bringup.plan.expectation import node_expectation
from bringup.report.model import Report, SchedulerRead, build_report
from bringup.report.sources import read_ledger
from bringup.spec import load_cluster
from bringup.validation.report import Finding
from bringup.workspace import REPOSITORY

STACKS = REPOSITORY / "stacks"
STACK = "lab"
PLAN = make_plan(load_cluster(STACKS / "Pulumi.lab.yaml"))
ADMITTED, QUARANTINED, FAILING, UNREACHABLE = (n.name for n in PLAN.nodes[:4])
NIC = next(n for n in node_expectation(PLAN, PLAN.node(QUARANTINED)).nics if n.rail == 2)
GPU_FINDING = Finding(f"gpu:{QUARANTINED}/3", "gpu.ecc", "12 uncorrectable", "0", "nvidia-smi -q")
NIC_FINDING = Finding(
    f"nic:{QUARANTINED}/{NIC.label}",
    "nic.carrier",
    "no carrier",
    f"carrier from {NIC.leaf} port {NIC.leaf_port}",
    attributes=NIC.attributes,
)
XID_FINDING = Finding(f"gpu:{FAILING}/1", "gpu.xid", "Xid 79", "no Xid")
SEEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MADE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def ledger_path(project: Path) -> Path:
    """Where the workspace of `project` keeps its SQLite ledger."""
    return project / ".state" / "ledger.sqlite3"


def seed(project: Path, *, gpu: Finding = GPU_FINDING) -> Incident:
    """Write the lab's states into the project's ledger; the open incident."""
    with Ledger.open(path=ledger_path(project)) as ledger:
        hosts = [ADMITTED, QUARANTINED, FAILING, UNREACHABLE]
        run = ledger.start_run(STACK, hosts, {"burn_in": False})
        for node in hosts:
            ledger.record_state(STACK, node, "provisioned", run_id=run.id)
            ledger.record_state(STACK, node, "validating", run_id=run.id)
        ledger.record_verdict(run.id, STACK, ADMITTED, "admitted", [])
        ledger.record_verdict(run.id, STACK, QUARANTINED, "quarantined", [gpu, NIC_FINDING])
        ledger.record_verdict(run.id, STACK, FAILING, "admitted", [])
        unreachable = Finding(
            f"node:{UNREACHABLE}", "node.reachable", "ssh: timed out", "reachable"
        )
        ledger.record_verdict(run.id, STACK, UNREACHABLE, "unreachable", [unreachable])
        ledger.finish_run(run.id)
        incident, _ = ledger.open_incident(
            STACK,
            FAILING,
            findings=[XID_FINDING],
            first_seen=SEEN,
            trigger="interval",
            action="reboot",
            bundle=f".state/incidents/{STACK}/1",
        )
        ledger.quarantine_in_service(STACK, FAILING, incident.id, "bringup: gpu.xid (incident 1)")
        return ledger.update_incident(incident.id, scheduler="drained", drained_at=SEEN)


def report_of(project: Path, scheduler: SchedulerRead | None = None) -> Report:
    """The lab's report from the project's ledger as it stands, made at MADE."""
    with Ledger.open(path=ledger_path(project)) as ledger:
        read = read_ledger(ledger, STACK, "test ledger")
    return build_report(PLAN, STACK, read, scheduler or SchedulerRead("none"), [], MADE, project)

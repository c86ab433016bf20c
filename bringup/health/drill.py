"""`bringup lab drill`: the in-service loop run end to end on the lab, and measured.

A drill starts a training-like job (``bringup.lab.workload``: one task per node in lockstep, a
checkpoint every K steps to the shared folder, ``--requeue``) on a partition whose nodes have the
part the fault hits, with at least one spare node. Once the job has passed a checkpoint, the
fault goes into one of its nodes. Then it watches, as the on-call engineer would, and times:

- fault → drain: the node drained by bringup, its reason naming the part;
- fault → running again: the job back in RUNNING, on nodes without the faulted one (a fault
  that fails no step, a dead daemon say, leaves the job running: it is never interrupted);
- the steps redone: completed before the fault, lost, done again after the restart (at most
  the checkpoint interval when the resume works);
- the job completed, and the incident the watch opened (its id, component and check).

The fault is healed at the end (the part "replaced"); the node stays drained and quarantined
until ``bringup repaired`` proves it again. The lab itself is reached through :class:`LabOps`,
so this module needs only what the lab gives it.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bringup.admit.ledger import Ledger
from bringup.catalog import LinkLayer
from bringup.errors import BringupError
from bringup.plan import Plan, node_expectation
from bringup.plan.expectation import NodeExpectation
from bringup.render.slurm import REQUEUE_EXIT
from bringup.scheduler.slurm import parse_nodes

FINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"})
_POLL_S = 0.2


class DrillError(BringupError):
    """A drill that cannot run: the lab, its Slurm, or the fault asked."""


@dataclass(frozen=True)
class Need:
    """What a fault kind hits, and whether it fails a running step (as a collective would)."""

    part: str
    """gpu | nvlink | ib | service | mount"""
    fails_job: bool


DRILLS: Mapping[str, Need] = {
    "gpu-off-bus": Need("gpu", True),
    "ecc-uncorrectable": Need("gpu", True),
    "nvlink-inactive": Need("nvlink", True),
    "row-remap-pending": Need("gpu", False),
    "xid": Need("gpu", False),
    "ib-port-down": Need("ib", True),
    "cable-cut": Need("ib", True),
    "ib-rate": Need("ib", False),
    "daemon-dead": Need("service", False),
    "mount-missing": Need("mount", False),
}
"""The fault kinds the health check finds, so a drill can run them. The others are burn-in's
(low bandwidth), a slow drift the health check does not judge (symbol errors), or a node nothing
on it can speak for (unreachable: Slurm marks it DOWN itself)."""

DEFAULT_SERVICE = "nvidia-fabricmanager"


class LabOps(Protocol):
    """What a drill asks of the lab."""

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A Slurm client tool run against the lab's controller (never raises on exit status)."""
        ...

    def inject(self, node: str) -> str:
        """Inject the drill's fault into `node`; its description."""
        ...

    def heal(self, node: str) -> None:
        """Undo the faults of `node`."""
        ...


@dataclass(frozen=True)
class Setup:
    """Where the job runs and how: the shared folder (as this host and a node see it), the
    command that runs bringup's Python on a node, and the job's shape."""

    shared_host: Path
    shared_node: str
    node_python: Sequence[str]
    nodes: int = 3
    steps: int = 40
    every: int = 5
    step_seconds: float = 0.5
    timeout_s: float = 300.0


def eligible(expected: NodeExpectation, need: Need, service: str | None) -> bool:
    """Whether a node has the part a fault kind hits."""
    if need.part == "gpu":
        return expected.gpu_count > 0
    if need.part == "nvlink":
        return expected.links_per_gpu > 0
    if need.part == "ib":
        return any(
            n.role.value == "compute" and n.link_layer == LinkLayer.INFINIBAND
            for n in expected.nics
        )
    if need.part == "service":
        return (service or DEFAULT_SERVICE) in expected.services
    return bool(expected.mounts)


def partition_for(
    plan: Plan, need: Need, service: str | None, node: str | None
) -> tuple[str, list[str]]:
    """The SKU partition the drill's job runs in, and its nodes that have the part: the given
    node's, else the SKU with the most such nodes (the most spares)."""
    by_sku: dict[str, list[str]] = {}
    for n in plan.nodes:
        if eligible(node_expectation(plan, n), need, service):
            by_sku.setdefault(n.sku, []).append(n.name)
    if node is not None:
        sku = plan.by_name[node].sku if node in plan.by_name else None
        if sku is None or node not in by_sku.get(sku, []):
            raise DrillError(f"--node {node}: has no {need.part} for this fault to hit")
        return sku, by_sku[sku]
    if not by_sku:
        raise DrillError(f"no node of stack {plan.cluster.name!r} has a {need.part} to fault")
    sku = max(sorted(by_sku), key=lambda s: len(by_sku[s]))
    return sku, by_sku[sku]


def batch_script(setup: Setup, folder: str) -> str:
    """The job's batch script: the workload on every node, exit REQUEUE_EXIT when a step failed."""
    command = shlex.join(
        [
            *setup.node_python,
            "-m",
            "bringup.lab.workload",
            "--dir",
            folder,
            "--steps",
            str(setup.steps),
            "--every",
            str(setup.every),
            "--step-seconds",
            str(setup.step_seconds),
        ]
    )
    return (
        "#!/bin/sh\n"
        "# A training-like job of bringup's drill: lockstep steps, a checkpoint every few steps.\n"
        f"srun --kill-on-bad-exit=1 {command} && exit 0\n"
        f"exit {REQUEUE_EXIT}  # a step failed under us: Slurm requeues (RequeueExit)\n"
    )


@dataclass
class JobState:
    """The job as `scontrol show job` gives it."""

    state: str
    nodes: list[str]
    restarts: int


def run_drill(
    lab: LabOps,
    plan: Plan,
    ledger: Callable[[], Ledger],
    kind: str,
    setup: Setup,
    *,
    node: str | None = None,
    service: str | None = None,
    interval_s: int | None = None,
) -> dict[str, object]:
    """Run one drill; its JSON summary."""
    need = DRILLS.get(kind)
    if need is None:
        raise DrillError(f"--fault {kind}: not drillable; the drills: {', '.join(sorted(DRILLS))}")
    partition, able = partition_for(plan, need, service, node)
    size = min(setup.nodes, len(plan_partition(plan, partition)) - 1)
    if size < 1:
        raise DrillError(f"partition {partition}: one node, no spare for a requeued job")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    folder_host = setup.shared_host / f"drill-{stamp}"
    folder_node = f"{setup.shared_node}/drill-{stamp}"
    folder_host.mkdir(parents=True, mode=0o777)
    script = folder_host / "job.sh"
    script.write_text(batch_script(setup, folder_node))
    job = _submit(lab, partition, size, folder_node, script)
    try:
        started = _wait_running(lab, job, setup.timeout_s)
        target = node or next((n for n in reversed(started.nodes) if n in able), None)
        if target is None or target not in started.nodes:
            raise DrillError(
                f"job {job} runs on {', '.join(started.nodes)}: "
                + (f"not on --node {node}" if node else f"none has a {need.part}")
            )
        _wait_progress(folder_host, setup.every + max(1, setup.every // 2), setup.timeout_s)
        description = lab.inject(target)
        fault_at = time.time()
        timeline = _watch(lab, job, target, fault_at, setup.timeout_s)
    except BaseException:
        lab.tool("scancel", job)
        raise
    lab.heal(target)
    events = read_events(folder_host)
    with ledger() as opened:
        found = [
            i
            for i in opened.incidents(plan.cluster.name, node=target)
            if i.opened_at.timestamp() >= fault_at - 1
        ]
    incident = found[-1] if found else None
    drained, running = timeline.get("drained"), timeline.get("running")
    return {
        "fault": kind,
        "description": description,
        "node": target,
        "partition": partition,
        "job": job,
        "job_nodes": started.nodes,
        "component": incident.component if incident else None,
        "check": incident.check if incident else None,
        "incident": incident.id if incident else None,
        "drain_reason": timeline.get("reason"),
        "seconds_fault_to_drain": _since(fault_at, drained),
        "job_interrupted": bool(timeline.get("restarts")),
        "seconds_fault_to_running": _since(fault_at, running),
        "seconds_drain_to_running": _since(drained, running),
        "job_nodes_after": timeline.get("nodes_after", []),
        "steps_redone": steps_redone(events),
        "checkpoint_every": setup.every,
        "job_state": timeline.get("final"),
        "job_completed": timeline.get("final") == "COMPLETED"
        and any(e.get("event") == "done" for e in events),
        "health_interval_s": interval_s,
    }


def plan_partition(plan: Plan, sku: str) -> list[str]:
    """Every node of a SKU's partition."""
    return [n.name for n in plan.nodes if n.sku == sku]


def _since(start: object, end: object) -> float | None:
    if not isinstance(start, float) or not isinstance(end, float):
        return None
    return round(end - start, 2)


def _submit(lab: LabOps, partition: str, size: int, folder: str, script: Path) -> str:
    done = lab.tool(
        "sbatch",
        "--parsable",
        "--partition",
        partition,
        "--nodes",
        str(size),
        "--exclusive",
        "--requeue",
        "--job-name",
        "bringup-drill",
        "--time",
        "30",
        "--output",
        f"{folder}/job-%j.out",
        str(script),
    )
    if done.returncode != 0:
        raise DrillError(f"sbatch: {' '.join(done.stderr.split())}")
    return done.stdout.strip().split(";")[0]


def job_state(lab: LabOps, job: str) -> JobState | None:
    """The job's state, nodes and restarts; None when Slurm no longer knows it."""
    done = lab.tool("scontrol", "-o", "show", "job", job)
    if done.returncode != 0:
        return None
    fields = dict(
        part.split("=", 1) for part in done.stdout.split() if "=" in part and part[0].isupper()
    )
    nodes: list[str] = []
    listed = fields.get("NodeList", "(null)")
    if listed not in ("", "(null)"):
        expanded = lab.tool("scontrol", "show", "hostnames", listed)
        nodes = expanded.stdout.split()
    return JobState(fields.get("JobState", "UNKNOWN"), nodes, int(fields.get("Restarts", "0")))


def _wait_running(lab: LabOps, job: str, timeout: float) -> JobState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job_state(lab, job)
        if state is not None and state.state == "RUNNING" and state.nodes:
            return state
        if state is not None and state.state in FINAL:
            raise DrillError(f"job {job} ended ({state.state}) before the fault")
        time.sleep(_POLL_S)
    raise DrillError(f"job {job} did not start within {timeout:.0f} s")


def _wait_progress(folder: Path, step: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [e for e in read_events(folder) if e.get("event") == "step"]
        if any(int(str(e.get("step", 0))) >= step for e in done):
            return
        time.sleep(_POLL_S)
    raise DrillError(f"the job did not reach step {step} within {timeout:.0f} s")


def _watch(lab: LabOps, job: str, node: str, fault_at: float, timeout: float) -> dict[str, object]:
    """Poll the node and the job until the job ends: when the node was drained, when the job
    ran again elsewhere, how it ended."""
    seen: dict[str, object] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.time()
        if "drained" not in seen:
            shown = lab.tool("scontrol", "--json", "show", "node", node)
            if shown.returncode == 0:
                current = parse_nodes(shown.stdout).get(node)
                if current is not None and current.owned:
                    seen["drained"], seen["reason"] = now, current.reason
        state = job_state(lab, job)
        if state is not None:
            seen["restarts"] = state.restarts
            if (
                "running" not in seen
                and state.restarts > 0
                and state.state == "RUNNING"
                and node not in state.nodes
            ):
                seen["running"], seen["nodes_after"] = now, state.nodes
            if state.state in FINAL:
                seen["final"] = state.state
                if "drained" in seen:
                    return seen
        elif "final" not in seen:
            seen["final"] = "GONE"
            return seen
        time.sleep(_POLL_S)
    seen.setdefault("final", "TIMEOUT (drill)")
    return seen


def read_events(folder: Path) -> list[dict[str, object]]:
    """The job's events (bringup.lab.workload writes them), in the order written."""
    try:
        lines = (folder / "events.jsonl").read_text().splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            events.append(data)
    return events


def steps_redone(events: Sequence[Mapping[str, object]]) -> int:
    """Steps completed, then lost to a failure and done again after a restart, over the job.

    >>> steps_redone([{"event": "step", "step": 7, "restart": 0},
    ...               {"event": "start", "rank": 0, "from_step": 6, "restart": 1}])
    2
    """
    reached: dict[int, int] = {}
    starts: dict[int, int] = {}
    for e in events:
        restart = int(str(e.get("restart", 0)))
        if e.get("event") == "step":
            reached[restart] = max(reached.get(restart, 0), int(str(e["step"])))
        elif e.get("event") == "start" and e.get("rank") == 0:
            starts[restart] = int(str(e["from_step"]))
    redone = 0
    for restart, start in sorted(starts.items()):
        if restart == 0:
            continue
        before = max((reached[r] for r in reached if r < restart), default=0)
        redone += max(0, before - (start - 1))
    return redone

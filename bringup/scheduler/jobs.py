"""The scheduler as the engine that runs admission's work on the nodes themselves (fleet scale).

SSH from one controller to every node does not scale to tens of thousands of nodes; the
scheduler already reaches all of them. :func:`runner_for` gives the stack's scheduler as a
:class:`JobRunner` (Slurm; no other adapter runs jobs yet), and :meth:`JobRunner.run_on` runs one
command on each node and returns what each printed.

With Slurm, the nodes are put in a maintenance reservation that only bringup's user may use
(``Flags=MAINT``), the nodes bringup holds are resumed into it (nobody else's job can start
there), one job step per partition runs the command on every node at once (``srun
--no-kill``: a node that fails loses its own output, not the others'), the nodes are held again
and the reservation is deleted, whatever happened. A node someone else holds is not touched and
comes back as not run, with its hold as the reason.

>>> lines = "x\\nbringup-report {\\"node\\": \\"n1\\"}\\nbringup-report {\\"node\\": \\"n2\\"}\\n"
>>> sorted(node_lines(lines, "bringup-report "))
['n1', 'n2']
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bringup.access import SchedulerAccess
from bringup.plan.scheduler import hostlist
from bringup.scheduler.adapter import SchedulerError, adapter_for
from bringup.scheduler.slurm import SlurmScheduler

STEP_TIMEOUT_S = 3600
"""How long one run on the nodes may take, burn-in included, before the step is ended."""


@dataclass(frozen=True, slots=True)
class NodeRuns:
    """What each node printed (its lines that carry the marker), and why the others did not."""

    outputs: dict[str, str] = field(default_factory=dict)
    """Node -> the JSON text after the marker."""
    missing: dict[str, str] = field(default_factory=dict)
    """Node -> why it printed nothing (held by someone else, its step failed, …)."""


class JobRunner(Protocol):
    """A scheduler that can run bringup's command on nodes."""

    def run_on(
        self, nodes: Sequence[str], argv: Sequence[str], *, label: str, marker: str, hold: str
    ) -> NodeRuns:
        """Run `argv` once on each node; `hold` is the reason the nodes are held with after."""
        ...


def runner_for(access: SchedulerAccess) -> JobRunner:
    """The stack's scheduler as a job runner; SchedulerError when it cannot run jobs."""
    adapter = adapter_for(access)
    if isinstance(adapter, SlurmScheduler):
        return SlurmJobs(adapter)
    raise SchedulerError(
        f"{adapter.describe()}: runs no jobs; admit through SSH (--via ssh) instead"
    )


def node_lines(text: str, marker: str) -> dict[str, str]:
    """The payload of each line starting with `marker`, by the ``node`` it names."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith(marker):
            continue
        payload = line[len(marker) :]
        try:
            node = json.loads(payload).get("node")
        except (ValueError, AttributeError):
            continue
        if isinstance(node, str):
            found[node] = payload
    return found


class SlurmJobs:
    """Jobs in a maintenance reservation of bringup's, through srun."""

    def __init__(self, slurm: SlurmScheduler, timeout_s: int = STEP_TIMEOUT_S) -> None:
        self.slurm = slurm
        self.timeout_s = timeout_s

    def run_on(
        self, nodes: Sequence[str], argv: Sequence[str], *, label: str, marker: str, hold: str
    ) -> NodeRuns:
        """Reserve, resume bringup's holds, run a step per partition, hold again, unreserve."""
        known = self.slurm.nodes(nodes)
        missing = {n: "not in the scheduler" for n in nodes if n not in known}
        missing |= {
            n: f"held by someone else: {s.reason}" for n, s in known.items() if s.by_operator
        }
        runnable = [n for n in nodes if n in known and n not in missing]
        if not runnable:
            return NodeRuns(missing=missing)
        reservation = label
        self.slurm.scontrol(
            "create", "reservation", f"ReservationName={reservation}", "StartTime=now",
            "Duration=UNLIMITED", f"Users={getpass.getuser()}", "Flags=MAINT,IGNORE_JOBS",
            f"Nodes={hostlist(runnable)}",
        )  # fmt: skip
        outputs: dict[str, str] = {}
        try:
            resumed = [n for n in runnable if known[n].owned]
            self.slurm.release(resumed)
            for partition, members in self._by_partition(runnable).items():
                text, why = self._step(reservation, partition, members, argv)
                found = node_lines(text, marker)
                outputs |= {n: found[n] for n in members if n in found}
                missing |= {n: why for n in members if n not in found}
        finally:
            # held again before the reservation goes, so that no job lands in between
            self.slurm.hold({hold: runnable})
            self.slurm.scontrol("delete", f"ReservationName={reservation}")
        return NodeRuns(outputs=outputs, missing=missing)

    def _step(
        self, reservation: str, partition: str, nodes: Sequence[str], argv: Sequence[str]
    ) -> tuple[str, str]:
        """One srun over `nodes`: its output, and what to say of a node that printed nothing."""
        command = [
            self.slurm.program("srun"), f"--reservation={reservation}", f"--partition={partition}",
            f"--nodes={len(nodes)}", f"--nodelist={hostlist(list(nodes))}",
            "--ntasks-per-node=1", "--no-kill", "--kill-on-bad-exit=0",
            f"--time={max(1, self.timeout_s // 60)}", f"--job-name={reservation}", *argv,
        ]  # fmt: skip
        env = {**os.environ, **self.slurm.access.env}
        try:
            done = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout_s + 60,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            out = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout or ""
            return out, f"the job step ran past {self.timeout_s} s"
        said = " ".join(done.stderr.split())[-300:] or f"exit {done.returncode}"
        return done.stdout, f"printed no report (srun: {said})"

    def _by_partition(self, nodes: Sequence[str]) -> dict[str, list[str]]:
        """Each node in the partition that holds most of `nodes` (few steps: `gpu` for every GPU
        node, `cpu` for the others)."""
        partitions = self._partitions(nodes)
        counts = Counter(p for names in partitions.values() for p in names)
        groups: dict[str, list[str]] = {}
        for node in nodes:
            options = partitions.get(node) or []
            if not options:
                raise SchedulerError(f"slurm: node {node} is in no partition: no job can run there")
            best = max(sorted(options), key=lambda p: counts[p])
            groups.setdefault(best, []).append(node)
        return groups

    def _partitions(self, nodes: Sequence[str]) -> Mapping[str, list[str]]:
        text = self.slurm.scontrol("--json", "show", "node", hostlist(list(nodes)))
        try:
            listed = json.loads(text).get("nodes", [])
        except ValueError:
            raise SchedulerError("slurm: `scontrol --json show node` printed no JSON") from None
        return {n["name"]: list(n.get("partitions") or []) for n in listed if "name" in n}

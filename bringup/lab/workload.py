"""A lab workload that fails as a synchronous training job does, and resumes as one should.

One task per node (``srun``), all in lockstep: a step is some compute, then a barrier every task
must reach (an all-reduce's effect on timing). A step fails when any of the job's nodes has a
failed part under it, as a real collective would: a GPU fallen off the bus or with uncorrectable
ECC errors, an NVLink down, or a compute NIC whose port or link is down. The task on that node
exits at once, ``srun --kill-on-bad-exit`` ends the others, and the batch script exits
:data:`~bringup.render.slurm.REQUEUE_EXIT`, which Slurm's ``RequeueExit`` turns into a requeue. A
daemon dying (the fabric manager) fails no step: jobs already running keep their NVLink
mappings; the health check drains the node, and the job finishes on it.

Every `every` steps task 0 writes a checkpoint (the step reached) to the shared folder, atomically;
a task starting (or restarting) resumes after the last checkpoint. Each task appends its events to
``events.jsonl`` in the same folder (one line per write, under PIPE_BUF, so lines never mix),
which is how a drill (bringup.health.drill) counts the steps redone after a restart.

A lab node's parts are its emulated hardware profile and its real network devices: the task reads
the profile the lab's tools print from, and the netdev's operational state from /sys.

>>> failures({"gpus": [{"index": 0, "present": False, "ecc": {"volatile_uncorrected": 0},
...                     "nvlinks": []}], "nics": []}, lambda netdev: "up")
['gpu 0: fallen off the bus']
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bringup.atomic import write_atomic
from bringup.lab.profile import PROFILE_PATH

BARRIER_TIMEOUT_S = 60.0
"""How long a task waits for its peers at a barrier before it calls the step failed."""
_POLL_S = 0.02


def failures(profile: Mapping[str, object], operstate: Callable[[str], str]) -> list[str]:
    """What would fail a collective on this node now: one line per failed part."""
    found = []
    for gpu in _list(profile.get("gpus")):
        index = gpu.get("index")
        if not gpu.get("present", True):
            found.append(f"gpu {index}: fallen off the bus")
            continue
        ecc = gpu.get("ecc")
        if isinstance(ecc, dict) and int(ecc.get("volatile_uncorrected", 0)) > 0:
            found.append(f"gpu {index}: uncorrectable ECC error")
        for link in _list(gpu.get("nvlinks")):
            if not link.get("active", True):
                found.append(f"gpu {index}: nvlink {link.get('link')} down")
    for nic in _list(profile.get("nics")):
        if nic.get("role") != "compute":
            continue
        netdev = str(nic.get("netdev"))
        if nic.get("state") not in (None, "Active") or operstate(netdev) not in ("up", "unknown"):
            found.append(f"nic {nic.get('device')} ({netdev}): link down")
    return found


def _list(value: object) -> list[dict[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _operstate(netdev: str) -> str:
    try:
        return Path(f"/sys/class/net/{netdev}/operstate").read_text().strip()
    except OSError:
        return "absent"


def _profile() -> Mapping[str, object]:
    try:
        data = json.loads(Path("/", PROFILE_PATH).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class Task:
    """One task of the job: its rank, the job's shared folder, and how it records events."""

    def __init__(self, folder: Path, rank: int, world: int, restart: int) -> None:
        self.folder = folder
        self.rank = rank
        self.world = world
        self.restart = restart
        self.node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()

    def event(self, kind: str, **fields: object) -> None:
        """Append one event line to events.jsonl."""
        line = {"event": kind, "rank": self.rank, "node": self.node, "restart": self.restart}
        data = (json.dumps({**line, **fields, "at": time.time()}) + "\n").encode()
        fd = os.open(self.folder / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def checkpoint(self) -> int:
        """The step of the last checkpoint (0: none yet)."""
        try:
            return int(json.loads((self.folder / "checkpoint.json").read_text())["step"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def barrier(self, step: int) -> bool:
        """Wait for every task at `step`; False when a peer does not come in time."""
        here = self.folder / "barrier" / str(self.restart) / str(step)
        here.mkdir(parents=True, exist_ok=True)
        (here / str(self.rank)).touch()
        deadline = time.monotonic() + BARRIER_TIMEOUT_S
        while time.monotonic() < deadline:
            if sum(1 for _ in here.iterdir()) >= self.world:
                return True
            time.sleep(_POLL_S)
        return False


def run(folder: Path, steps: int, every: int, step_seconds: float) -> int:
    """Run this task's part of the job; its exit status (0 done, 1 a step failed)."""
    env = os.environ
    task = Task(
        folder,
        int(env.get("SLURM_PROCID", "0")),
        int(env.get("SLURM_NTASKS", "1")),
        int(env.get("SLURM_RESTART_COUNT", "0")),
    )
    start = task.checkpoint() + 1
    task.event("start", from_step=start, job=env.get("SLURM_JOB_ID", ""))
    for step in range(start, steps + 1):
        time.sleep(step_seconds)
        broken = failures(_profile(), _operstate)
        if broken:
            task.event("failed", step=step, what="; ".join(broken))
            return 1
        if not task.barrier(step):
            task.event("failed", step=step, what="a peer did not reach the barrier")
            return 1
        if task.rank == 0:
            task.event("step", step=step)
            if step % every == 0:
                data = json.dumps({"step": step}).encode()
                write_atomic(folder / "checkpoint.json", data)
                task.event("checkpoint", step=step)
    if task.rank == 0:
        task.event("done", step=steps)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bringup.lab.workload", description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="the job's shared folder")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=5, help="steps between two checkpoints")
    parser.add_argument("--step-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    return run(args.dir, args.steps, args.every, args.step_seconds)


if __name__ == "__main__":
    sys.exit(main())

"""Lab benchmark: `lab up` and `lab down` with 4, 16 and 64 nodes, and memory per node (root).

Nodes come from the `h100-4su` stack (127 planned nodes, each with 8 InfiniBand rails and 4
Ethernet ports). `up` includes building the package repository. Memory per node is the
proportional set size (PSS) of every process in the node's network namespace (the anchor,
sshd, and the unshare parent that holds them); RSS counts shared pages once per process.

    sudo .venv/bin/python benchmarks/lab_scale.py [--nodes 4,16,64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bringup.lab.lab import Lab
from bringup.lab.system import netns_pids
from bringup.plan import make_plan
from bringup.spec import load_cluster
from bringup.workspace import Workspace

STACK = Path(__file__).resolve().parents[1] / "stacks" / "Pulumi.h100-4su.yaml"


def memory_kib(pid: int, field: str, source: str) -> int:
    """A memory figure of a process in KiB (0 if gone): Pss in smaps_rollup, VmRSS in status."""
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="4,16,64")
    args = parser.parse_args()
    plan = make_plan(load_cluster(STACK))
    print(f"{'nodes':>6} {'up s':>6} {'down s':>7} {'PSS MiB/node':>13} {'RSS MiB/node':>13}")
    for count in (int(n) for n in args.nodes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bringup-lab-bench-") as tmp:
            lab = Lab(Workspace(Path(tmp)), "bench")
            lab.down()
            start = time.perf_counter()
            state = lab.up(plan, count)
            up = time.perf_counter() - start
            pids = [p for r in state["nodes"] for p in netns_pids(r["netns"])]
            pss = sum(memory_kib(p, "Pss", "smaps_rollup") for p in pids)
            rss = sum(memory_kib(p, "VmRSS", "status") for p in pids)
            start = time.perf_counter()
            lab.down()
            down = time.perf_counter() - start
            per = 1024 * count
            print(f"{count:>6} {up:>6.1f} {down:>7.1f} {pss / per:>13.1f} {rss / per:>13.1f}")


if __name__ == "__main__":
    main()

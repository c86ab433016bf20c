"""Provisioning benchmark: converge 1, 4 and 16 lab nodes from scratch, then a no-op converge.

Nodes are the first N of the `lab` stack (two HGX H100 nodes, then GB200 NVL72 trays), whose
package repository is the lab's. Each size gets a fresh lab; runs as root.

    sudo .venv/bin/python benchmarks/provision_scale.py [--nodes 1,4,16]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _lab import fresh_lab  # benchmarks/ is the script's folder

from bringup.plan import make_plan
from bringup.provision import run_playbook
from bringup.spec import load_cluster

ROOT = Path(__file__).resolve().parents[1]
STACK = "lab"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,4,16")
    args = parser.parse_args()
    plan = make_plan(load_cluster(ROOT / "stacks" / f"Pulumi.{STACK}.yaml"))
    print(f"{'nodes':>6} {'converge s':>11} {'no-op s':>8} {'changed':>8} {'no-op changed':>14}")
    for count in (int(n) for n in args.nodes.split(",")):
        with fresh_lab(plan, STACK, count, "bringup-provision-bench-") as lab:
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                result = run_playbook(lab.provision())
                runs.append((time.perf_counter() - start, result))
                assert result.converged, result.hosts
            (first, converge), (second, noop) = runs
            changed = sum(r.changed for r in converge.hosts.values())
            again = sum(r.changed for r in noop.hosts.values())
            print(f"{count:>6} {first:>11.1f} {second:>8.1f} {changed:>8} {again:>14}")


if __name__ == "__main__":
    main()

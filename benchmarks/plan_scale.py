"""Planner scale benchmark: plan 10k, 100k and 500k GPUs; print wall time and peak memory.

Each size runs in a fresh interpreter so that its peak resident memory is its own. The cluster is
GB300 NVL72 racks (72 GPUs each) in SUs of 8 racks on four fabrics (XDR compute on Quantum-X800,
Ethernet storage and in-band on SN5600, OOB on SN2201), the shape of ``stacks/gb300-100k``.

Columns: ``plan`` is make_plan plus the summary (what ``bringup plan`` does); ``cables`` walks
every cable of every plane through the generator (what ``--out`` does for cabling.csv), without
keeping them.

    .venv/bin/python benchmarks/plan_scale.py [--sizes 10000,100000,500000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from math import ceil
from typing import Any

RACK_GPUS = 72
RACKS_PER_SU = 8
ROWS_PER_HALL = 32


def cluster(gpus: int) -> dict[str, Any]:
    """A GB300 NVL72 cluster of at least `gpus` GPUs, one SU per row."""
    racks = ceil(gpus / RACK_GPUS)
    sus = ceil(racks / RACKS_PER_SU)
    groups = []
    for su in range(1, sus + 1):
        count = min(RACKS_PER_SU, racks - (su - 1) * RACKS_PER_SU)
        hall, row = divmod(su - 1, ROWS_PER_HALL)
        groups.append(
            {
                "sku": "gb300-nvl72",
                "count": count,
                "hall": hall + 1,
                "row": row + 1,
                "rack": 1,
                "su": su,
            }
        )

    def fabric(
        name: str, kind: str, switch: str, speed: int, cidr: str, **extra: Any
    ) -> dict[str, Any]:
        return {
            "name": name,
            "kind": kind,
            "role": name,
            "switch": switch,
            "speed_gbps": speed,
            "nodes_per_su": 144,
            "cidr": cidr,
            **extra,
        }

    return {
        "name": f"bench-{gpus}",
        "site": {"name": "bench"},
        "racks": groups,
        "fabrics": [
            fabric("compute", "infiniband", "q3400", 800, "10.0.0.0/9"),
            fabric("storage", "ethernet", "sn5600", 400, "10.128.0.0/10"),
            fabric("inband", "ethernet", "sn5600", 100, "10.192.0.0/10"),
            fabric("oob", "ethernet", "sn2201", 1, "172.16.0.0/12", nodes_per_su=256),
        ],
    }


def measure(gpus: int) -> dict[str, Any]:
    """Plan one size in this process and report timings and peak memory."""
    from bringup.plan import fabric_cables, make_plan, summary
    from bringup.spec import parse_cluster

    start = time.perf_counter()
    spec = parse_cluster(cluster(gpus))
    parsed = time.perf_counter()
    plan = make_plan(spec)
    data = summary(plan)
    planned = time.perf_counter()
    cables = sum(1 for fp in plan.fabrics for p in fp.planes for _ in fabric_cables(fp, p))
    walked = time.perf_counter()
    return {
        "gpus": data["gpus"],
        "nodes": data["nodes"],
        "cables": cables,
        "parse_s": round(parsed - start, 2),
        "plan_s": round(planned - parsed, 2),
        "cables_s": round(walked - planned, 2),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,500000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    header = ("GPUs", 9), ("trays", 8), ("cables", 10), ("parse s", 8), ("plan s", 7)
    header += ("cables s", 9), ("peak MiB", 9)
    print(" ".join(f"{name:>{width}}" for name, width in header))
    for size in (int(s) for s in args.sizes.split(",")):
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(child.stdout)
        print(
            f"{r['gpus']:>9,} {r['nodes']:>8,} {r['cables']:>10,} {r['parse_s']:>8} "
            f"{r['plan_s']:>7} {r['cables_s']:>9} {r['peak_mib']:>9,}"
        )


if __name__ == "__main__":
    main()

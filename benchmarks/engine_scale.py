"""Engine benchmark: `bringup up` and a no-op `up` for 10, 100 and 1,000 racks, real engine.

Each size gets a fresh project folder (state, inventory) under a temporary directory. The
cluster is HGX H100 racks of 4 nodes, 8 racks per SU, on a compute, an in-band and an OOB fabric.
Prints wall time of the first `up` (everything created) and of a second one (no changes), the
resource count and the size of the stack's state file.

    .venv/bin/python benchmarks/engine_scale.py [--racks 10,100,1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from math import ceil
from pathlib import Path
from typing import Any

from bringup.infra.engine import Engine
from bringup.spec import parse_cluster
from bringup.workspace import Workspace

RACKS_PER_SU = 8


def cluster(racks: int) -> dict[str, Any]:
    """`racks` HGX H100 racks, one SU per row."""
    groups = []
    for su in range(1, ceil(racks / RACKS_PER_SU) + 1):
        count = min(RACKS_PER_SU, racks - (su - 1) * RACKS_PER_SU)
        groups.append(
            {"sku": "hgx-h100", "count": count, "hall": 1, "row": su, "rack": 1, "su": su}
        )

    def fabric(name: str, kind: str, switch: str, speed: int, cidr: str) -> dict[str, Any]:
        return {"name": name, "kind": kind, "role": name, "switch": switch, "speed_gbps": speed,
                "nodes_per_su": 32, "cidr": cidr}  # fmt: skip

    return {
        "name": "bench",
        "site": {"name": "bench"},
        "racks": groups,
        "fabrics": [
            fabric("compute", "infiniband", "qm9700", 400, "10.0.0.0/10"),
            fabric("inband", "ethernet", "sn4600c", 100, "10.64.0.0/12"),
            fabric("oob", "ethernet", "sn2201", 1, "10.80.0.0/14"),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racks", default="10,100,1000")
    args = parser.parse_args()
    os.environ.setdefault("PULUMI_CONFIG_PASSPHRASE", "bringup-benchmark")  # throw-away stacks
    columns = ("racks", 6), ("nodes", 6), ("resources", 9), ("up s", 7), ("no-op up s", 10)
    print(" ".join(f"{name:>{width}}" for name, width in (*columns, ("state KiB", 9))))
    for racks in (int(r) for r in args.racks.split(",")):
        spec = parse_cluster(cluster(racks))
        with tempfile.TemporaryDirectory(prefix="bringup-bench-") as tmp:
            engine = Engine(Workspace(Path(tmp)))
            start = time.perf_counter()
            engine.up("bench", spec)
            first = time.perf_counter() - start
            start = time.perf_counter()
            again = engine.up("bench", spec)
            noop = time.perf_counter() - start
            assert set(again.summary) == {"same"}, again.summary
            state = next(Path(tmp, ".state", "pulumi").rglob("bench.json"))
            print(
                f"{racks:>6} {racks * 4:>6} {engine.resource_count('bench', spec):>9} "
                f"{first:>7.1f} {noop:>10.1f} {state.stat().st_size / 1024:>9.0f}"
            )


if __name__ == "__main__":
    main()

"""`bringup plan STACK --out DIR` beside its floor: a bare writer of the same bytes, in one run.

Each round, interleaved so that a busy machine slows both alike, times:

- ``command``: the whole command in a fresh interpreter (start, load, plan, both files);
- ``write``: what ``--out`` adds, in this process: :func:`write_plan_json` and
  :func:`write_cabling_csv` of a plan already made;
- ``floor``: a bare writer of the same content with nothing to work out: the cable rows already
  in memory as tuples, written with the csv module's ``writerows``, and every plan.json line
  already in memory as plain data, dumped with the same compiled serializer and written.

The ratios are ``write / floor`` and ``command / floor``; the table prints medians.

    .venv/bin/python benchmarks/plan_write.py [--stack gb300-100k] [--rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic_core import to_json

from bringup.plan import Plan, fabric_cables, make_plan, write_cabling_csv, write_plan_json
from bringup.spec import load_cluster

ROOT = Path(__file__).resolve().parents[1]


def floor_data(plan: Plan, folder: Path) -> tuple[list[tuple[object, ...]], list[object]]:
    """The rows of cabling.csv and the items of plan.json, as plain data in memory."""
    rows: list[tuple[object, ...]] = [
        (c.id, c.fabric, c.plane, c.tier, c.rail or "", c.a_device, c.a_port,
         c.b_device, c.b_port, c.speed_gbps)
        for fp in plan.fabrics for p in fp.planes for c in fabric_cables(fp, p)
    ]  # fmt: skip
    path = folder / "plan.json"
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_plan_json(plan, handle)
    items: list[object] = json.loads(path.read_text(encoding="utf-8"))["nodes"]
    return rows, items


def bare_write(folder: Path, rows: list[tuple[object, ...]], items: list[object]) -> float:
    """Seconds to write `rows` and `items` with nothing else to do."""
    start = time.perf_counter()
    with (folder / "floor.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with (folder / "floor.json").open("w", encoding="utf-8", newline="") as handle:
        handle.write('{"nodes": [\n')
        handle.writelines(to_json(item).decode() + ",\n" for item in items)
        handle.write("]}\n")
    return time.perf_counter() - start


def plan_write(plan: Plan, folder: Path) -> float:
    """Seconds for what ``--out`` adds: both files of a plan already made."""
    start = time.perf_counter()
    with (folder / "plan.json").open("w", encoding="utf-8", newline="") as handle:
        write_plan_json(plan, handle)
    with (folder / "cabling.csv").open("w", encoding="utf-8", newline="") as handle:
        write_cabling_csv(plan, handle)
    return time.perf_counter() - start


def command(stack: str, folder: Path) -> float:
    """Seconds for the whole command in a fresh interpreter."""
    start = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("bringup")),
            "plan",
            stack,
            "--out",
            str(folder / "out"),
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="gb300-100k")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    plan = make_plan(load_cluster(ROOT / "stacks" / f"Pulumi.{args.stack}.yaml"))
    times: dict[str, list[float]] = {"command": [], "write": [], "floor": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows, items = floor_data(plan, folder)
        for _ in range(args.rounds):
            times["floor"].append(bare_write(folder, rows, items))
            times["write"].append(plan_write(plan, folder))
            times["command"].append(command(args.stack, folder))
        sizes = {p.name: p.stat().st_size for p in (folder / "out").iterdir()}
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.stack}: {len(rows):,} cables, {len(items):,} nodes, " + ", ".join(
        f"{name} {size / 2**20:.0f} MiB" for name, size in sorted(sizes.items())
    ) + f"; medians of {args.rounds} rounds")  # fmt: skip
    print(f"{'':>8} {'median s':>9} {'floor s':>8} {'ratio':>6}")
    for name in ("write", "command"):
        print(f"{name:>8} {med[name]:>9.2f} {med['floor']:>8.2f} {med[name] / med['floor']:>6.2f}")
    print("rounds: " + "; ".join(
        f"{name} " + " ".join(f"{t:.2f}" for t in values) for name, values in times.items()
    ))  # fmt: skip


if __name__ == "__main__":
    main()

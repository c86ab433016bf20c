"""Engine benchmark: bringup's `up` and no-op `up` beside a bare program of the same tree.

For each size, bringup's program (the HGX H100 racks of engine_scale.py) and the bare program
of _bare.py (the same components and dynamic resources, with the same names and parents, but
no inputs, outputs or work) each run `up` from nothing, then an `up` with no changes, in a
fresh project folder. The bare program runs twice: as a Pulumi program is usually written, and
waiting for its resources' registrations as bringup's program does (which spares both the
SDK's quadratic wait for outstanding outputs: bringup.infra.program.registered). All run the
same way, through bringup's Engine: the Automation API with an inline program in this process,
the engine scripts/build-pulumi builds, the project's file backend, passphrase secrets, events
streamed, the SDK's debug messages not sent. Rounds alternate the programs, so that the
machine's load falls on all alike; the table gives medians and bringup's ratio to each bare
program's median.

    .venv/bin/python benchmarks/engine_bare.py [--racks 10,100,1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _bare import Node, declare, shape
from engine_scale import cluster
from pulumi import automation as auto

from bringup.infra import sdk_log
from bringup.infra.engine import PASSPHRASE_VARIABLE, PROJECT, Engine
from bringup.spec import Cluster, parse_cluster
from bringup.workspace import Workspace

STACK = "bench"


def bringup_run(spec: Cluster) -> tuple[float, float, list[Node], int]:
    """bringup's `up` and no-op `up` in a fresh project; the tree it declared, and the
    resources in its state."""
    with tempfile.TemporaryDirectory(prefix="bringup-bench-") as tmp:
        engine = Engine(Workspace(Path(tmp)))
        first = _timed(lambda: engine.up(STACK, spec))
        start = time.perf_counter()
        again = engine.up(STACK, spec)
        noop = time.perf_counter() - start
        assert set(again.summary) == {"same"}, again.summary
        deployment = engine.stack(STACK, spec).export_stack().deployment or {}
        return first, noop, shape(deployment["resources"]), len(deployment["resources"])


def bare_run(tree: list[Node], wait: bool) -> tuple[float, float, int]:
    """The bare program's `up` and no-op `up` in a fresh project; the resources in its state.
    With `wait`, the program waits for its resources' registrations as bringup's does."""
    with tempfile.TemporaryDirectory(prefix="bringup-bare-") as tmp:
        engine = Engine(Workspace(Path(tmp)))
        engine.workspace.stack(STACK).engine.mkdir(parents=True)
        engine.workspace.pulumi_backend.mkdir(parents=True)
        options = engine.options(STACK)
        sdk_log.install()  # as Engine.stack does: the SDK's debug messages are not sent
        assert options.env_vars is not None
        # the provider process unpickles NoopProvider by reference, from _bare
        options.env_vars["PYTHONPATH"] = str(Path(__file__).parent)

        def stack() -> auto.Stack:
            return auto.create_or_select_stack(
                stack_name=STACK,
                project_name=PROJECT,
                program=lambda: declare(tree, wait),
                opts=options,
            )

        def up() -> auto.UpResult:
            return stack().up(on_event=_ignore, on_output=_ignore, color="never")

        first = _timed(up)
        start = time.perf_counter()
        again = up()
        noop = time.perf_counter() - start
        assert set(again.summary.resource_changes or {}) == {"same"}, again.summary
        deployment = stack().export_stack().deployment or {}
        return first, noop, len(deployment["resources"])


def _timed(operation: Callable[[], object]) -> float:
    start = time.perf_counter()
    operation()
    return time.perf_counter() - start


def _ignore(_: object) -> None:
    """What the bare program does with the engine's events and lines (bringup records them)."""


PROGRAMS = ("bringup", "bare", "bare waiting")
"""The programs of a round: bringup's; the bare one as a Pulumi program is usually written; the
bare one waiting for its resources' registrations as bringup's does."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racks", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault(PASSPHRASE_VARIABLE, "bringup-benchmark")  # throw-away stacks
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    print("| racks | resources | operation | bringup s | bare s | ratio | bare waiting s | ratio |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    rounds: dict[int, dict[tuple[str, str], list[float]]] = {}
    for racks in (int(r) for r in args.racks.split(",")):
        spec = parse_cluster(cluster(racks))
        times = rounds[racks] = {(p, op): [] for p in PROGRAMS for op in ("up", "no-op")}
        for _ in range(args.rounds):
            up, noop, tree, resources = bringup_run(spec)
            times["bringup", "up"].append(up)
            times["bringup", "no-op"].append(noop)
            for program, wait in (("bare", False), ("bare waiting", True)):
                up, noop, count = bare_run(tree, wait)
                assert count == resources, f"{program}: {count} resources, bringup's {resources}"
                times[program, "up"].append(up)
                times[program, "no-op"].append(noop)
        m = {key: statistics.median(values) for key, values in times.items()}
        for op in ("up", "no-op"):
            ours, bare, waiting = (m[p, op] for p in PROGRAMS)
            print(
                f"| {racks:,} | {resources:,} | {op} | {ours:.1f} | {bare:.1f} | "
                f"{ours / bare:.2f} | {waiting:.1f} | {ours / waiting:.2f} |",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")
    for racks, times in rounds.items():
        each = "; ".join(
            f"{p} {op} {' '.join(f'{t:.1f}' for t in values)}" for (p, op), values in times.items()
        )
        print(f"{racks:,} racks, each round: {each}")


if __name__ == "__main__":
    main()

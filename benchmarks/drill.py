"""The in-service loop, measured: `bringup lab drill` for three fault kinds, several rounds each.

One lab of six nodes of the `lab` stack (the two HGX H100 nodes and four GB200 trays),
provisioned and admitted once (not timed), with its watch at the gateway and Slurm's health
check every 10 s on busy nodes (the lab stack's `health.interval_s`). Each round is one drill: a
three-node job (one node for the HGX pair), 40 steps of 0.5 s, a checkpoint every 5 steps; the
fault goes in once the job has passed its first checkpoint; then `bringup repaired` (not timed)
brings the node back. Measured per drill, as the drill reports them:

- fault → drain: until Slurm shows the node drained with bringup's reason naming the part;
- fault → running again: until the requeued job runs on nodes without the faulted one (a dead
  fabric manager fails no step: that job is never interrupted);
- steps redone after the restart (the target: at most one checkpoint interval, 5).

The targets of the loop: drained within 15 s of the fault, running again within 60 s of the
drain. Runs as root; the project is under /var/tmp, as an operator's would be.

    sudo .venv/bin/python benchmarks/drill.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOSTS = [
    "lab-h1-r01-k01-n1",
    "lab-h1-r01-k01-n2",
    "lab-h1-r01-k02-t01",
    "lab-h1-r01-k02-t02",
    "lab-h1-r01-k02-t03",
    "lab-h1-r01-k02-t04",
]
FAULTS = (("gpu-off-bus", ["--gpu", "3"]), ("ib-port-down", []), ("daemon-dead", []))


def bringup(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    stacks = [] if args[:2] == ("lab", "down") else ["--stacks-dir", str(ROOT / "stacks")]
    argv = [sys.executable, "-m", "bringup", *args, *stacks]
    return subprocess.run(
        argv,
        cwd=project,
        env={**os.environ, "BRINGUP_ROOT": str(project)},
        capture_output=True,
        text=True,
        check=False,
    )


def must(done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(done.args[3:6])}: exit {done.returncode}: {done.stderr}")
    return done.stdout


def figure(values: list[float | None]) -> str:
    """median (min-max) of the values measured; '-' when none was."""
    seen = [v for v in values if v is not None]
    if not seen:
        return "-"
    return f"{statistics.median(seen):.1f} ({min(seen):.1f}-{max(seen):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="drills per fault kind")
    args = parser.parse_args()
    project = Path(tempfile.mkdtemp(prefix="bringup-drill-bench-", dir="/var/tmp"))
    runs: dict[str, list[dict[str, object]]] = {kind: [] for kind, _ in FAULTS}
    try:
        must(bringup(project, "lab", "down", "--stack", "lab"))
        must(bringup(project, "lab", "up", "--stack", "lab", "--nodes", str(len(HOSTS))))
        must(bringup(project, "provision", "--stack", "lab", "--limit", ",".join(HOSTS)))
        must(
            bringup(
                project, "admit", "--stack", "lab", "--limit", ",".join(HOSTS),
                "--domain-policy", "quorum:1", "--no-burn-in",
            )
        )  # fmt: skip
        for round_ in range(args.rounds):
            for kind, extra in FAULTS:
                done = bringup(project, "lab", "drill", "--stack", "lab", "--fault", kind, *extra)
                summary = json.loads(done.stdout) if done.stdout.strip() else {}
                if not summary:
                    raise SystemExit(f"drill {kind}: exit {done.returncode}: {done.stderr}")
                runs[kind].append(summary)
                print(f"round {round_ + 1} {kind}: {json.dumps(summary)}", file=sys.stderr)
                must(
                    bringup(
                        project, "repaired", str(summary["node"]), "--note", "benchmark",
                        "--stack", "lab", "--domain-policy", "quorum:1", "--level", "1",
                    )
                )  # fmt: skip
    finally:
        bringup(project, "lab", "down", "--stack", "lab")
        shutil.rmtree(project, ignore_errors=True)
    interval = next(iter(runs.values()))[0]["health_interval_s"]
    print(f"health check interval: {interval} s (busy nodes); {args.rounds} drill(s) per kind")
    print(
        f"{'fault':<14} {'component named':<42} {'fault→drain s':<16} {'fault→running s':<16} "
        f"{'steps redone':<13} completed"
    )
    for kind, summaries in runs.items():
        named = sorted({str(s["component"]).split(":", 1)[0] + ":" for s in summaries})
        checks = sorted({str(s["check"]) for s in summaries})
        drain = figure([s["seconds_fault_to_drain"] for s in summaries])  # type: ignore[misc]
        running = figure([s["seconds_fault_to_running"] for s in summaries])  # type: ignore[misc]
        redone = max(int(str(s["steps_redone"])) for s in summaries)
        done = sum(1 for s in summaries if s["job_completed"])
        print(
            f"{kind:<14} {', '.join(named) + ' ' + ', '.join(checks):<42} {drain:<16} "
            f"{running:<16} {'max ' + str(redone):<13} {done}/{len(summaries)}"
        )


if __name__ == "__main__":
    main()

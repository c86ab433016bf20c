"""Admission through SSH against admission as Slurm jobs on the nodes: 1, 4 and 16 lab nodes.

One lab of the first 16 nodes of the `lab` stack (2 HGX H100 and 14 GB200 trays), provisioned
once (not timed). For each size and mode, a fresh ledger and one admission run with burn-in
(DCGM level 1) and the suite; the NVLink domain policy is quorum:1, so that a partial rack is
judged by its trays alone. Measured:

- wall: the run, from its start to its verdicts and the scheduler told;
- controller CPU: user + system seconds of bringup's process and every process it started
  (Ansible, ssh, pytest and testinfra over SSH; srun through Slurm), per node;
- slurmctld CPU: the Slurm controller's seconds meanwhile (a site runs it on its own host).

The lab's nodes share this host's cores, so what runs on a node (burn-in, the suite in local
mode) is in neither figure, and it competes with the controller for the same 2 cores: wall
times here are those of a 2-core host doing both sides. Runs as root; the project is under
/var/tmp because a lab node has a /tmp of its own and the jobs read the inventory.

    sudo .venv/bin/python benchmarks/admission_modes.py [--nodes 1,4,16]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from _lab import fresh_lab  # benchmarks/ is the script's folder

from bringup.admit.admission import AdmissionRequest, admit
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy
from bringup.plan import make_plan
from bringup.provision import run_playbook
from bringup.spec import load_cluster

ROOT = Path(__file__).resolve().parents[1]
STACK = "lab"
MODES = ("ssh", "scheduler")


def cpu_seconds() -> float:
    """User + system seconds of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def process_seconds(pid: int) -> float:
    """User + system seconds of process `pid` so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,4,16")
    args = parser.parse_args()
    sizes = [int(n) for n in args.nodes.split(",")]
    plan = make_plan(load_cluster(ROOT / "stacks" / f"Pulumi.{STACK}.yaml"))
    header = f"{'nodes':>5} {'mode':>9} {'wall s':>7} {'ctl CPU s':>9} {'ctl CPU s/node':>14}"
    print(f"{header} {'slurmctld CPU s':>15} {'admitted':>8}", flush=True)
    with fresh_lab(plan, STACK, max(sizes), "bringup-modes-bench-", under="/var/tmp") as lab:
        converge = run_playbook(lab.provision())
        assert converge.converged, converge.hosts
        controller = lab.lab.state()["slurm"]["slurmctld"]
        for count in sizes:
            hosts = lab.hosts[:count]
            for mode in MODES:
                request = AdmissionRequest(
                    stack=STACK,
                    hosts=hosts,
                    inventory=lab.inventory,
                    work=lab.stack.admission,
                    domains={d.name: d.nodes for d in plan.shared_domains},
                    policy=DomainPolicy.parse("quorum:1"),
                    dcgm_level=1,
                    burn_in=True,
                    via=mode,  # type: ignore[arg-type]
                    access=lab.lab.access(),
                )
                ledger = lab.project / f"ledger-{count}-{mode}.sqlite3"
                cpu, ctld, started = cpu_seconds(), process_seconds(controller), time.monotonic()
                with Ledger.open(path=ledger) as opened:
                    result = admit(request, opened)
                wall = time.monotonic() - started
                cpu, ctld = cpu_seconds() - cpu, process_seconds(controller) - ctld
                admitted = len(result.with_verdict("admitted"))
                print(
                    f"{count:>5} {mode:>9} {wall:>7.1f} {cpu:>9.2f} {cpu / count:>14.2f} "
                    f"{ctld:>15.2f} {admitted:>5}/{count}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""Admission benchmark: validate 1, 4 and 16 lab nodes, without and with burn-in (DCGM level 1).

Nodes are the first N of the `lab` stack, provisioned first (not timed). Each size gets a fresh
lab and a fresh ledger; the NVLink domain policy is quorum:1 so that a partial rack is judged
by its trays alone. Runs as root.

    sudo .venv/bin/python benchmarks/admission_scale.py [--nodes 1,4,16]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,4,16")
    args = parser.parse_args()
    plan = make_plan(load_cluster(ROOT / "stacks" / f"Pulumi.{STACK}.yaml"))
    print(f"{'nodes':>6} {'validate s':>11} {'burn-in + validate s':>21} {'admitted':>9}")
    for count in (int(n) for n in args.nodes.split(",")):
        with fresh_lab(plan, STACK, count, "bringup-admit-bench-") as lab:
            converge = run_playbook(lab.provision())
            assert converge.converged, converge.hosts
            times = []
            for burn_in in (False, True):
                request = AdmissionRequest(
                    stack=STACK,
                    hosts=lab.hosts,
                    inventory=lab.inventory,
                    work=lab.stack.admission,
                    domains={d.name: d.nodes for d in plan.shared_domains},
                    policy=DomainPolicy.parse("quorum:1"),
                    dcgm_level=1,
                    burn_in=burn_in,
                    access=lab.lab.access(),
                )
                with Ledger.open(path=lab.project / f"ledger-{burn_in}.sqlite3") as ledger:
                    start = time.perf_counter()
                    result = admit(request, ledger)
                    times.append(time.perf_counter() - start)
            admitted = len(result.with_verdict("admitted"))
            print(f"{count:>6} {times[0]:>11.1f} {times[1]:>21.1f} {admitted:>5}/{count}")


if __name__ == "__main__":
    main()

"""The lab's Kubernetes control plane, measured: how long etcd and kube-apiserver take to answer,
how much memory they hold, and how long the adapter takes to hold and release every node.

Each round starts the control plane as `bringup lab up` does for the lab-k8s stack (in a folder
of its own under /var/tmp, on free ports), registers the stack's 21 nodes, then through the
adapter holds them all pending, quarantines them, and releases them. Measured per round:

- start → ready: from spawning etcd to kube-apiserver answering /readyz;
- the resident memory (RSS) of kube-apiserver and etcd once the nodes are registered;
- hold, quarantine and release of the 21 nodes (a GET and two PATCHes each).

Needs the build of scripts/build-kubernetes; no root.

    .venv/bin/python benchmarks/kubernetes_lab.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bringup.lab.kubernetes import LabKubernetes, Ports
from bringup.plan import make_plan
from bringup.plan.expectation import management_address
from bringup.scheduler.kubernetes import KubernetesScheduler
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY, Workspace

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab-k8s.yaml"))
NAMES = [n.name for n in PLAN.nodes]


def rss_mib(pid: int) -> float:
    """A process's resident memory, MiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_round() -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bringup-kube-bench-", dir="/var/tmp"))
    lab = folder / ".lab" / "lab-k8s"
    control = LabKubernetes(
        lab / "kubernetes", lab / "kubeconfig", Workspace(REPOSITORY).kubernetes, Ports.free()
    )
    try:
        control.configure()  # keys and certificate made once per lab, not timed
        started = time.monotonic()
        pids = control.start()
        ready = time.monotonic() - started
        control.register(PLAN, {n.name: management_address(PLAN, n) or "" for n in PLAN.nodes})
        memory = {name: rss_mib(pid) for name, pid in pids.items()}
        api = KubernetesScheduler.for_kubeconfig(control.kubeconfig, "bringup")
        figures = {"ready_s": ready, **{f"{k}_rss_mib": v for k, v in memory.items()}}
        steps = (
            ("hold_pending_s", lambda: api.hold({"bringup: validation pending (run b)": NAMES})),
            ("quarantine_s", lambda: api.hold({"bringup: gpu:x/0 gpu.xid (run b)": NAMES})),
            ("release_s", lambda: api.release(NAMES)),
        )
        for name, step in steps:
            began = time.monotonic()
            step()
            figures[name] = time.monotonic() - began
        return figures
    finally:
        control.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = [one_round() for _ in range(parser.parse_args().rounds)]
    print(f"kube-apiserver and etcd of lab-k8s ({len(NAMES)} nodes), {len(rounds)} rounds")
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        unit = "MiB" if key.endswith("mib") else "s"
        print(
            f"  {key:<26} median {statistics.median(values):8.2f} {unit}"
            f"   min {min(values):8.2f}   max {max(values):8.2f}"
        )


if __name__ == "__main__":
    main()

"""`bringup lab up | down | status | fault | faults | heal | slurm | kubernetes | scheduler |
drill`: the embedded lab (needs root)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bringup.atomic import write_atomic
from bringup.cli.common import (
    StackOption,
    StacksDirOption,
    console,
    ledger,
    plan_stack,
    workspace,
)
from bringup.cli.tables import kubernetes_nodes_table, lab_table
from bringup.errors import BringupError
from bringup.lab.faults import FAULTS, Options
from bringup.lab.hosts import SHARED_MOUNT
from bringup.lab.lab import Lab
from bringup.render.slurm import GPU_PARTITION

app = typer.Typer(
    help="The embedded lab: emulated GPU nodes on this host (needs root).", no_args_is_help=True
)


def _lab(stack: str, stacks_dir: Path = Path("stacks")) -> Lab:
    return Lab(workspace(stacks_dir), stack)


@app.command("up")
def lab_up(
    stack: StackOption = "lab",
    nodes: Annotated[int | None, typer.Option(help="Only the first N planned nodes.")] = None,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Start one lab host per planned node: namespace, overlay root, sshd, wired NICs."""
    ws, _, plan = plan_stack(stack, stacks_dir)
    if os.geteuid() != 0:
        raise BringupError("the lab needs root (network namespaces, bridges, overlay mounts)")
    state = Lab(ws, stack).up(plan, nodes)
    console().print(f"lab {stack}: {len(state['nodes'])} nodes up in {state['seconds']} s")
    _print_status(stack)


@app.command("down")
def lab_down(stack: StackOption = "lab") -> None:
    """Remove every lab namespace, process, veth and bridge (safe to run twice)."""
    removed = _lab(stack).down()
    console().print(f"lab {stack}: removed {len(removed)} namespaces and links")


@app.command("status")
def lab_status(stack: StackOption = "lab") -> None:
    """Nodes, management addresses, sshd and injected faults."""
    _print_status(stack)


def _print_status(stack: str) -> None:
    rows = _lab(stack).status()
    console().print(lab_table(stack, rows) if rows else f"lab {stack} is down")


@app.command("fault")
def lab_fault(
    node: Annotated[str, typer.Argument(help="Lab node name.")],
    kind: Annotated[str, typer.Argument(help="Fault kind (see `bringup lab faults`).")],
    stack: StackOption = "lab",
    gpu: Annotated[int, typer.Option(help="GPU index.")] = 0,
    link: Annotated[int, typer.Option(help="NVLink number.")] = 0,
    device: Annotated[str | None, typer.Option(help="NIC device, e.g. mlx5_0.")] = None,
    xid: Annotated[int, typer.Option(help="Xid number.")] = 79,
    count: Annotated[int, typer.Option(help="How many errors.")] = 1,
    value: Annotated[float | None, typer.Option(help="Rate or bandwidth to set.")] = None,
    service: Annotated[str | None, typer.Option(help="Daemon, e.g. nvidia-imex.")] = None,
    mount: Annotated[str | None, typer.Option(help="Mount point.")] = None,
) -> None:
    """Inject a fault into a running lab node."""
    options = Options(gpu, link, device, xid, count, value, service, mount)
    description = _lab(stack).fault(node, kind, options)
    console().print(f"{node}: {description}")


@app.command("faults")
def lab_faults() -> None:
    """List the fault kinds."""
    screen = console()
    for name, fn in sorted(FAULTS.items()):
        screen.print(f"{name:<20} {(fn.__doc__ or '').strip()}")


@app.command("heal")
def lab_heal(
    node: Annotated[
        str | None, typer.Argument(help="Node to heal; default every faulty node.")
    ] = None,
    stack: StackOption = "lab",
) -> None:
    """Undo injected faults."""
    healed = _lab(stack).heal(node)
    console().print(f"healed: {', '.join(healed) or 'nothing to heal'}")


@app.command("slurm")
def lab_slurm(
    stack: StackOption = "lab",
    job: Annotated[
        bool, typer.Option("--job/--no-job", help="Run a two-node `srun hostname`.")
    ] = True,
) -> None:
    """The lab's Slurm as its controller sees it (sinfo), then a two-node job on idle nodes.

    The client tools work from this host too:
    ``SLURM_CONF=.lab/<stack>/slurm/slurm.conf .tools/slurm/bin/sinfo``.
    """
    slurm = _lab(stack).slurm
    if not slurm.conf.exists():
        raise BringupError(f"lab {stack}: no Slurm controller (is the lab up, and a Slurm stack?)")
    screen = console()
    screen.print(f"SLURM_CONF={slurm.conf}", soft_wrap=True)
    screen.print(slurm.tool("sinfo").stdout.rstrip(), soft_wrap=True, markup=False)
    if not job:
        return
    idle = slurm.tool("sinfo", "-h", "-N", "-t", "idle", "-p", GPU_PARTITION, "-o", "%N")
    nodes = sorted(set(idle.stdout.split()))[:2]
    if len(nodes) < 2:
        raise BringupError(f"lab {stack}: {len(nodes)} idle GPU node(s); a two-node job needs 2")
    ran = slurm.tool("srun", "-N2", "-w", ",".join(nodes), "--time=5", "hostname")
    screen.print(f"srun -N2 -w {','.join(nodes)} hostname:", soft_wrap=True)
    screen.print(ran.stdout.rstrip(), soft_wrap=True, markup=False)


@app.command("kubernetes")
def lab_kubernetes(stack: StackOption = "lab-k8s") -> None:
    """The lab's Kubernetes nodes as its API server holds them: readiness, bringup's
    condition, taints and cordon.

    A kubectl works from this host too: ``KUBECONFIG=.lab/<stack>/kubeconfig kubectl get
    nodes`` (contexts ``bringup`` and ``operator``).
    """
    from bringup.scheduler.kubernetes import KubernetesScheduler, node_row

    lab = _lab(stack)
    state = lab.state()
    if "kubernetes" not in state:
        raise BringupError(f"lab {stack}: no API server (is the lab up, and a Kubernetes stack?)")
    api = KubernetesScheduler.for_kubeconfig(lab.kubeconfig, "bringup")
    nodes = api.read([r["name"] for r in state["nodes"]])
    screen = console()
    screen.print(f"KUBECONFIG={lab.kubeconfig}", soft_wrap=True)
    screen.print(kubernetes_nodes_table(stack, [node_row(nodes[n]) for n in sorted(nodes)]))


@app.command("scheduler")
def lab_scheduler(stack: StackOption = "lab") -> None:
    """The lab's scheduler, whichever the stack runs: `lab slurm` (sinfo and a two-node job)
    or `lab kubernetes` (the Nodes)."""
    state = _lab(stack).state()
    if "kubernetes" in state:
        lab_kubernetes(stack)
    elif "slurm" in state:
        lab_slurm(stack)
    else:
        raise BringupError(f"lab {stack}: no scheduler runs (is the lab up?)")


@dataclass(frozen=True)
class _DrillLab:
    """The lab as a drill reaches it: its Slurm tools, one fault kind, heal."""

    lab: Lab
    kind: str
    options: Options

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.lab.slurm.tool(name, *args, check=False)

    def inject(self, node: str) -> str:
        return self.lab.fault(node, self.kind, self.options)

    def heal(self, node: str) -> None:
        self.lab.heal(node)


@app.command("drill")
def lab_drill(
    fault: Annotated[str, typer.Option(help="The fault kind to inject (see the drills below).")],
    stack: StackOption = "lab",
    node: Annotated[
        str | None,
        typer.Option(
            help="The node to fault, one Slurm gives the job (default: the last of them with "
            "the part); the job is not pinned to it, so its requeue may run anywhere."
        ),
    ] = None,
    gpu: Annotated[int, typer.Option(help="GPU index.")] = 0,
    link: Annotated[int, typer.Option(help="NVLink number.")] = 0,
    device: Annotated[str | None, typer.Option(help="NIC device, e.g. mlx5_0.")] = None,
    xid: Annotated[int, typer.Option(help="Xid number.")] = 79,
    service: Annotated[
        str | None, typer.Option(help="Daemon for daemon-dead (default nvidia-fabricmanager).")
    ] = None,
    mount: Annotated[str | None, typer.Option(help="Mount point for mount-missing.")] = None,
    nodes: Annotated[int, typer.Option(min=1, help="Nodes of the job (a spare is kept).")] = 3,
    steps: Annotated[int, typer.Option(min=4, help="Steps of the job.")] = 40,
    every: Annotated[int, typer.Option(min=1, help="Steps between two checkpoints.")] = 5,
    step_seconds: Annotated[float, typer.Option(min=0.05, help="Seconds per step.")] = 0.5,
    timeout: Annotated[float, typer.Option(min=10, help="Seconds before giving up.")] = 300.0,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Run the in-service loop end to end: a requeueable training-like job, a fault mid-run,
    the drain naming the part, the requeue, the resume from the last checkpoint; prints a JSON
    summary (seconds fault → drain and → running again, steps redone, the incident), also kept
    in .state/drills/<stack>/.

    Drills: gpu-off-bus, ecc-uncorrectable, nvlink-inactive, row-remap-pending, xid,
    ib-port-down, cable-cut, ib-rate, daemon-dead, mount-missing. Exit codes: 0 the node was
    drained and the job completed, 1 otherwise, 2 bad input or a lab without Slurm.
    """
    from bringup.admit.prepare import open_ledger
    from bringup.health.drill import DEFAULT_SERVICE, DRILLS, DrillError, Setup, run_drill

    if fault not in DRILLS:
        raise BringupError(f"--fault {fault}: not drillable; the drills: {', '.join(DRILLS)}")
    if every >= steps:
        raise BringupError(f"--every {every}: expected fewer than --steps ({steps})")
    ws, cluster, plan = plan_stack(stack, stacks_dir)
    if node is not None and node not in plan.by_name:
        raise BringupError(f"--node {node}: not in stack {stack!r}")
    lab = _lab(stack, stacks_dir)
    if "watch_url" not in lab.state():
        raise BringupError(f"lab {stack}: no Slurm and no watch (is the lab up, a Slurm stack?)")
    if fault == "daemon-dead":
        service = service or DEFAULT_SERVICE
    options = Options(gpu, link, device, xid, 1, None, service, mount)
    setup = Setup(
        lab.shared,
        SHARED_MOUNT,
        tuple(lab.access().node_python),
        nodes=nodes,
        steps=steps,
        every=every,
        step_seconds=step_seconds,
        timeout_s=timeout,
    )
    with ledger(ws):  # said in one line when the ledger cannot be used, before the job starts
        pass
    try:
        summary = run_drill(
            _DrillLab(lab, fault, options),
            plan,
            lambda: open_ledger(ws),
            fault,
            setup,
            node=node,
            service=service,
            interval_s=cluster.health.interval_s,
        )
    except DrillError as error:
        raise BringupError(str(error)) from None
    text = json.dumps(summary, indent=1)
    kept = ws.stack(stack).drills
    kept.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    write_atomic(kept / f"{stamp}-{fault}.json", (text + "\n").encode())
    typer.echo(text)
    if summary["seconds_fault_to_drain"] is None or not summary["job_completed"]:
        raise typer.Exit(1)

"""The ``bringup`` command line: argument handling and output only."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bringup.plan import PlanError, make_plan, summary, write_cabling_csv, write_plan_json
from bringup.plan.plan import Plan
from bringup.spec import Cluster, SpecError, load_cluster, resolve_stack

EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="bringup",
    help="Take a GPU cluster from a declaration to validated, schedulable capacity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    """Output format of `bringup plan`."""

    TABLE = "table"
    JSON = "json"


@app.callback()
def _root() -> None:
    """Take a GPU cluster from a declaration to validated, schedulable capacity."""


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _load(stack: str, stacks_dir: Path) -> Cluster:
    path = resolve_stack(stack, stacks_dir)
    if not path.exists():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml")
        )
        raise _fail(f"stack {stack!r}: no file {path}; known stacks: {', '.join(known) or 'none'}")
    try:
        return load_cluster(path)
    except SpecError as error:
        raise _fail(str(error)) from None


@app.command("plan")
def plan_command(
    stack: Annotated[str, typer.Argument(help="Stack name, Pulumi stack file or YAML file.")],
    output: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
    out: Annotated[
        Path | None, typer.Option(help="Write plan.json and cabling.csv into this folder.")
    ] = None,
    stacks_dir: Annotated[Path, typer.Option(help="Folder of Pulumi.<stack>.yaml files.")] = Path(
        "stacks"
    ),
) -> None:
    """Plan a stack: nodes, NVLink domains, fabrics, cables, addresses, bill of materials."""
    cluster = _load(stack, stacks_dir)
    try:
        plan = make_plan(cluster)
    except PlanError as error:
        raise _fail(str(error)) from None
    data = summary(plan)
    if out is not None:
        _write_outputs(plan, out)
    if output == Format.JSON:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        _print_tables(data, Console(width=None if sys.stdout.isatty() else 120))


def _write_outputs(plan: Plan, out: Path) -> None:
    """Write both files beside their final names, then rename: never half-written."""
    out.mkdir(parents=True, exist_ok=True)
    for name, writer in (("plan.json", write_plan_json), ("cabling.csv", write_cabling_csv)):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                writer(plan, handle)
            os.replace(tmp, out / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _print_tables(data: dict[str, Any], console: Console) -> None:
    bom = data["bom"]
    head = Table(title=f"cluster {data['cluster']} at {data['site']}", show_header=True)
    for column in ("SKU", "racks", "nodes / trays", "GPUs"):
        head.add_column(column, justify="right" if column != "SKU" else "left")
    for sku, nodes in bom["systems"].items():
        head.add_row(sku, str(bom["racks"].get(sku, 0)), str(nodes), str(bom["gpus"].get(sku, 0)))
    head.add_row("total", str(data["racks"]), str(data["nodes"]), str(data["gpus"]), style="bold")
    console.print(head)
    console.print(
        f"NVLink domains: {data['nvlink_domains']}   NVLink switch trays: "
        f"{bom['nvlink_switch_trays']}   power: {bom['power_kw']:,} kW"
    )
    fabrics = Table(title="fabrics, per plane")
    for column in ("fabric", "plane", "switch", "tiers"):
        fabrics.add_column(column)
    fabrics.add_column("leaf / spine / core", justify="right")
    fabrics.add_column("cables n-l / l-s / s-c", justify="right")
    fabrics.add_column("optics", justify="right")
    for name, fabric in data["fabrics"].items():
        for p in fabric["planes"]:
            cables = p["cables"]
            fabrics.add_row(
                name,
                str(p["plane"]),
                f"{fabric['switch']} {fabric['speed_gbps']}G",
                str(p["tiers"]),
                f"{p['leaf']:,} / {p['spine']:,} / {p['core']:,}",
                f"{cables['node_leaf']:,} / {cables['leaf_spine']:,} / {cables['spine_core']:,}",
                f"{p['transceivers']:,}",
            )
    console.print(fabrics)
    addresses = Table(title="addresses")
    for column in ("fabric", "role", "scheme", "endpoints"):
        addresses.add_column(column)
    for name, fabric in data["fabrics"].items():
        addresses.add_row(name, fabric["role"], fabric["addressing"], str(fabric["endpoints"]))
    console.print(addresses)


StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name (stacks/Pulumi.<name>.yaml).")
]
StacksDirOption = Annotated[Path, typer.Option(help="Folder of Pulumi.<stack>.yaml files.")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Print the engine's own output.")
]


def _engine_run(
    operation: str,
    stack: str,
    stacks_dir: Path,
    verbose: bool,
    provision: bool = False,
    admit: bool = False,
    domain_policy: str = "unit",
) -> None:
    """Validate and plan first (bad input exits 2 before any resource is touched), then run."""
    from pulumi.automation import errors as auto_errors

    from bringup.admit.verdict import DomainPolicy, PolicyError
    from bringup.infra.components import AdmitSettings
    from bringup.infra.engine import Engine, EngineError
    from bringup.infra.provisioning import tree_hash
    from bringup.provision.runner import REPOSITORY

    cluster = _load(stack, stacks_dir)
    try:
        make_plan(cluster)
        DomainPolicy.parse(domain_policy)
    except PlanError as error:
        raise _fail(str(error)) from None
    except PolicyError as error:
        raise _fail(f"--domain-policy: {error}") from None
    settings = None
    if admit:
        suite = tree_hash(REPOSITORY, ("tests/validation", "bringup/validation"))
        settings = AdmitSettings(domain_policy, 1, suite)
    engine = Engine(root=Path.cwd(), provision=provision, admit=settings)
    console = Console()
    echo = (lambda line: console.print(line, markup=False, highlight=False)) if verbose else None
    try:
        with console.status(f"pulumi {operation} {stack}") if not verbose else nullcontext():
            outcome = getattr(engine, operation)(stack, cluster, echo)
    except EngineError as error:
        raise _fail(str(error)) from None
    except auto_errors.CommandError as error:
        Console(stderr=True).print(f"[bold red]{operation} failed:[/] {error}", markup=True)
        raise typer.Exit(1) from None
    table = Table(title=f"{operation} {stack}")
    table.add_column("operation")
    table.add_column("resources", justify="right")
    for op, count in outcome.summary.items():
        table.add_row(op, str(count))
    console.print(table)
    if operation == "preview":
        changed = sorted((name, op) for name, op in outcome.steps.items() if op != "same")
        for name, op in changed:
            console.print(f"  {op:<8} {name}", highlight=False)
    hosts = outcome.outputs.pop("hosts", None)
    admission = outcome.outputs.pop("admission", None)
    for key, value in sorted(outcome.outputs.items()):
        console.print(f"{key}: {json.dumps(value, sort_keys=True)}", highlight=False)
    if hosts:
        results = Table(title="provisioning, per host")
        for column in ("host", "status", "changed"):
            results.add_column(column)
        for host, r in sorted(hosts.items()):
            results.add_row(host, str(r.get("status")), str(r.get("changed")))
        console.print(results)
    if admission:
        console.print(_admission_table(admission))
        if any(r.get("quarantined") or r.get("unreachable") for r in admission.values()):
            raise typer.Exit(1)


def _admission_table(admission: dict[str, Any]) -> Table:
    """Per node, from the racks' Admission outputs: verdict and the findings naming parts."""
    table = Table(title="admission, per node")
    for column in ("node", "verdict", "component", "check", "observed", "expected"):
        table.add_column(column, overflow="fold")
    for _, result in sorted(admission.items()):
        rows: list[tuple[str, str, list[dict[str, Any]]]] = [
            *((n, "admitted", []) for n in result.get("admitted", [])),
            *((n, "quarantined", f) for n, f in result.get("quarantined", {}).items()),
            *((n, "unreachable", []) for n in result.get("unreachable", [])),
        ]
        for node, verdict, findings in sorted(rows):
            first = findings[0] if findings else {}
            table.add_row(
                node,
                verdict,
                first.get("component", ""),
                first.get("check", ""),
                first.get("observed", ""),
                first.get("expected", ""),
            )
    return table


ProvisionOption = Annotated[
    bool,
    typer.Option(
        "--provision/--no-provision",
        help="Also converge each rack's nodes with playbooks/provision.yml (nodes must be up).",
    ),
]


AdmitOption = Annotated[
    bool,
    typer.Option(
        "--admit/--no-admit",
        help="Also burn in, validate and judge each rack after it converges (implies provision).",
    ),
]
DomainPolicyOption = Annotated[
    str, typer.Option(help="NVLink domains under --admit: 'unit' (all trays) or 'quorum:N'.")
]


@app.command("preview")
def preview_command(
    stack: StackOption,
    stacks_dir: StacksDirOption = Path("stacks"),
    verbose: VerboseOption = False,
    provision: ProvisionOption = False,
    admit: AdmitOption = False,
    domain_policy: DomainPolicyOption = "unit",
) -> None:
    """Show what `up` would create, update, replace or delete."""
    _engine_run("preview", stack, stacks_dir, verbose, provision, admit, domain_policy)


@app.command("up")
def up_command(
    stack: StackOption,
    stacks_dir: StacksDirOption = Path("stacks"),
    verbose: VerboseOption = False,
    provision: ProvisionOption = False,
    admit: AdmitOption = False,
    domain_policy: DomainPolicyOption = "unit",
) -> None:
    """Plan the stack and converge its resources: the rendered inventory and artifacts.

    With --admit, the exit code is 1 when some node was not admitted.
    """
    _engine_run("up", stack, stacks_dir, verbose, provision, admit, domain_policy)


@app.command("destroy")
def destroy_command(
    stack: StackOption, stacks_dir: StacksDirOption = Path("stacks"), verbose: VerboseOption = False
) -> None:
    """Delete every resource of the stack, and every file it wrote."""
    _engine_run("destroy", stack, stacks_dir, verbose)


@app.command("provision")
def provision_command(
    stack: StackOption = "lab",
    limit: Annotated[
        str | None, typer.Option(help="Comma-separated hosts or groups (Ansible --limit).")
    ] = None,
    playbook: Annotated[Path, typer.Option(help="Playbook to run.")] = Path(
        "playbooks/provision.yml"
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Report changes without making them.")
    ] = False,
    ssh_key: Annotated[Path | None, typer.Option(help="Private key (default: the lab's).")] = None,
    known_hosts: Annotated[
        Path | None, typer.Option(help="known_hosts (default: the lab's).")
    ] = None,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Render the inventory and converge the nodes with Ansible, without Pulumi.

    Exit codes: 0 every host converged, 1 some host failed or was unreachable, 2 bad input.
    """
    from bringup.provision import SshSettings, run_playbook
    from bringup.provision.inventory import write_inventory
    from bringup.provision.progress import Progress, result_table
    from bringup.provision.runner import lab_settings

    cluster = _load(stack, stacks_dir)
    try:
        plan = make_plan(cluster)
    except PlanError as error:
        raise _fail(str(error)) from None
    if not playbook.exists():
        raise _fail(f"--playbook: {playbook} does not exist")
    root = Path.cwd()
    inventory = write_inventory(plan, stack, root)
    lab_ssh, extra_vars = lab_settings(root, stack)
    ssh = SshSettings(
        private_key=ssh_key or lab_ssh.private_key, known_hosts=known_hosts or lab_ssh.known_hosts
    )
    hosts = limit.split(",") if limit else None
    console = Console()
    with Progress(len(hosts) if hosts else len(plan.nodes), console) as progress:
        result = run_playbook(
            playbook,
            inventory=inventory,
            private_data_dir=root / ".state" / "runs" / stack,
            hosts=hosts,
            ssh=ssh,
            extra_vars=extra_vars,
            check=check,
            on_event=progress.update,
        )
    console.print(result_table(result, f"{playbook.name} on {stack}{' (check)' if check else ''}"))
    console.print(f"artifacts: {result.artifacts}", highlight=False)
    if not result.converged:
        raise typer.Exit(1)


@app.command("admit")
def admit_command(
    stack: StackOption = "lab",
    limit: Annotated[str | None, typer.Option(help="Comma-separated nodes to judge.")] = None,
    level: Annotated[
        int, typer.Option(min=1, max=4, help="DCGM diagnostic level of the burn-in.")
    ] = 1,
    domain_policy: Annotated[
        str, typer.Option(help="NVLink domains: 'unit' (all trays) or 'quorum:N'.")
    ] = "unit",
    burn_in: Annotated[
        bool, typer.Option("--burn-in/--no-burn-in", help="Burn in before validating.")
    ] = True,
    batch: Annotated[int, typer.Option(min=1, help="Nodes per burn-in and suite batch.")] = 64,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Burn in, validate and judge nodes: admitted, quarantined (with findings) or unreachable.

    Exit codes: 0 every node admitted, 1 some node quarantined or unreachable, 2 bad input or an
    unusable environment. An interrupted run of the same nodes is resumed.
    """
    from bringup.admit.admission import admit
    from bringup.admit.command import (
        AdmitInputError,
        admission_table,
        domain_table,
        open_ledger,
        prepare,
    )
    from bringup.admit.ledger import LedgerError
    from bringup.admit.verdict import DomainPolicy, PolicyError

    plan = _plan(stack, stacks_dir)
    root = Path.cwd()
    try:
        policy = DomainPolicy.parse(domain_policy)
        request, far_end = prepare(
            plan,
            stack,
            root,
            limit=limit.split(",") if limit else None,
            policy=policy,
            dcgm_level=level,
            burn_in=burn_in,
            batch=batch,
        )
    except (PolicyError, AdmitInputError) as error:
        prefix = "--domain-policy: " if isinstance(error, PolicyError) else ""
        raise _fail(f"{prefix}{error}") from None
    console = Console()
    try:
        with open_ledger(root) as ledger:
            result = admit(
                request,
                ledger,
                root / ".state" / "admission" / stack,
                far_end=far_end,
                on_phase=lambda phase, hosts: console.print(
                    f"{phase}: {len(hosts)} node(s)", highlight=False
                ),
            )
    except LedgerError as error:
        raise _fail(f"ledger: {error}") from None
    console.print(admission_table(result, plan))
    table = domain_table(result)
    if table is not None:
        console.print(table)
    admitted = len(result.with_verdict("admitted"))
    console.print(f"{admitted} of {len(result.verdicts)} node(s) admitted", highlight=False)
    if admitted != len(result.verdicts):
        raise typer.Exit(1)


@app.command("status")
def status_command(
    stack: StackOption = "lab",
    output: Annotated[Format, typer.Option("--format", help="table or json")] = Format.TABLE,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Each node's state in the ledger, per rack, with its latest findings and since when."""
    from bringup.admit.command import capacity, open_ledger, status_table
    from bringup.admit.ledger import LedgerError

    plan = _plan(stack, stacks_dir)
    try:
        with open_ledger(Path.cwd()) as ledger:
            states = ledger.status(stack)
    except LedgerError as error:
        raise _fail(f"ledger: {error}") from None
    if output == Format.JSON:
        rows = [
            {
                "node": s.node,
                "state": s.state,
                "since": s.since.isoformat(),
                "findings": [f.to_json() for f in s.findings],
            }
            for s in states
        ]
        typer.echo(json.dumps({"nodes": rows, "admitted": capacity(states, plan)}, indent=1))
        return
    console = Console()
    console.print(status_table(stack, states, plan))
    for sku, row in sorted(capacity(states, plan).items()):
        console.print(f"admitted {sku}: {row['nodes']} node(s), {row['gpus']} GPU(s)")


@app.command("repaired")
def repaired_command(
    node: Annotated[str, typer.Argument(help="The node repaired.")],
    note: Annotated[str, typer.Option(help="What was done (part swapped, RMA number).")],
    stack: StackOption = "lab",
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Record that a quarantined node was repaired; its next `admit` revalidates it."""
    from bringup.admit.command import open_ledger
    from bringup.admit.ledger import LedgerError

    plan = _plan(stack, stacks_dir)
    if node not in {n.name for n in plan.nodes}:
        raise _fail(f"node {node!r}: not in stack {stack!r}")
    try:
        with open_ledger(Path.cwd()) as ledger:
            ledger.mark_repaired(stack, node, note)
    except LedgerError as error:
        raise _fail(f"ledger: {error}") from None
    Console().print(f"{node}: repaired ({note})", highlight=False)


def _plan(stack: str, stacks_dir: Path) -> Plan:
    cluster = _load(stack, stacks_dir)
    try:
        return make_plan(cluster)
    except PlanError as error:
        raise _fail(str(error)) from None


lab_app = typer.Typer(help="The embedded lab: emulated GPU nodes on this host (needs root).")
app.add_typer(lab_app, name="lab")


def _lab(stack: str) -> Any:
    from bringup.lab.lab import Lab

    return Lab(Path.cwd(), stack)


def _lab_guard(action: Any) -> Any:
    from bringup.lab.system import LabError

    try:
        return action()
    except LabError as error:
        raise _fail(str(error)) from None


@lab_app.command("up")
def lab_up(
    stack: StackOption = "lab",
    nodes: Annotated[int | None, typer.Option(help="Only the first N planned nodes.")] = None,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Start one lab host per planned node: namespace, overlay root, sshd, wired NICs."""
    cluster = _load(stack, stacks_dir)
    try:
        plan = make_plan(cluster)
    except PlanError as error:
        raise _fail(str(error)) from None
    if os.geteuid() != 0:
        raise _fail("the lab needs root (network namespaces, bridges, overlay mounts)")
    state = _lab_guard(lambda: _lab(stack).up(plan, nodes))
    Console().print(f"lab {stack}: {len(state['nodes'])} nodes up in {state['seconds']} s")
    _print_lab_status(stack)


@lab_app.command("down")
def lab_down(stack: StackOption = "lab") -> None:
    """Remove every lab namespace, process, veth and bridge (safe to run twice)."""
    removed = _lab_guard(lambda: _lab(stack).down())
    Console().print(f"lab {stack}: removed {len(removed)} namespaces and links")


@lab_app.command("status")
def lab_status(stack: StackOption = "lab") -> None:
    """Nodes, management addresses, sshd and injected faults."""
    _print_lab_status(stack)


def _print_lab_status(stack: str) -> None:
    rows = _lab(stack).status()
    table = Table(title=f"lab {stack}")
    for column in ("node", "management", "up", "sshd", "faults"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["node"], r["management"], str(r["up"]), str(r["sshd"]), "; ".join(r["faults"])
        )
    Console().print(table if rows else f"lab {stack} is down")


@lab_app.command("fault")
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
    from bringup.lab.faults import Options

    options = Options(gpu, link, device, xid, count, value, service, mount)
    description = _lab_guard(lambda: _lab(stack).fault(node, kind, options))
    Console().print(f"{node}: {description}", highlight=False)


@lab_app.command("faults")
def lab_faults() -> None:
    """List the fault kinds."""
    from bringup.lab.faults import FAULTS

    for name, fn in sorted(FAULTS.items()):
        Console().print(f"{name:<20} {(fn.__doc__ or '').strip()}", highlight=False)


@lab_app.command("heal")
def lab_heal(
    node: Annotated[
        str | None, typer.Argument(help="Node to heal; default every faulty node.")
    ] = None,
    stack: StackOption = "lab",
) -> None:
    """Undo injected faults."""
    healed = _lab_guard(lambda: _lab(stack).heal(node))
    Console().print(f"healed: {', '.join(healed) or 'nothing to heal'}")


def main() -> None:
    """Entry point of the ``bringup`` script."""
    app()

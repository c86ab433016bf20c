"""`bringup preview | up | destroy`: the stack's resources through the Pulumi engine."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from pulumi.automation import errors as auto_errors

from bringup.access import Access
from bringup.admit.prepare import check_policy
from bringup.cli.admit import domain_policy as domain_policy_option
from bringup.cli.common import (
    StackOption,
    StacksDirOption,
    access_of,
    console,
    ledger,
    plan_stack,
)
from bringup.cli.tables import operations_table, provisioned_table, verdicts_table
from bringup.infra.components import AdmitSettings
from bringup.infra.engine import Engine
from bringup.lab import PASSPHRASE as LAB_PASSPHRASE
from bringup.validation.checks import SUITE_SOURCES

VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Print the engine's own output.")
]
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


def run(
    operation: str,
    stack: str,
    stacks_dir: Path,
    verbose: bool,
    provision: bool = False,
    admit: bool = False,
    domain_policy: str = "unit",
) -> None:
    """Validate and plan first (bad input exits 2 before any resource is touched), then run."""
    ws, cluster, plan = plan_stack(stack, stacks_dir)
    policy = domain_policy_option(domain_policy)
    settings = None
    access = Access()
    if provision or admit:
        access = access_of(ws, stack, cluster)
    if admit:
        check_policy(policy, plan, [n.name for n in plan.nodes])
        with ledger(ws) as opened:
            repairs = opened.latest_repairs(stack)
        settings = AdmitSettings(str(policy), 1, ws.digest(*SUITE_SOURCES), repairs)
    engine = Engine(
        ws,
        provision=provision,
        admit=settings,
        access=access,
        default_passphrase=LAB_PASSPHRASE if cluster.access.via == "lab" else None,
    )
    screen = console()
    echo = (lambda line: screen.print(line)) if verbose else None
    try:
        with screen.status(f"pulumi {operation} {stack}") if not verbose else nullcontext():
            outcome = getattr(engine, operation)(stack, cluster, echo)
    except auto_errors.CommandError as error:
        console(stderr=True).print(f"{operation} failed: {error}")
        raise typer.Exit(1) from None
    screen.print(operations_table(f"{operation} {stack}", outcome.summary))
    if operation == "preview":
        for name, op in sorted((n, op) for n, op in outcome.steps.items() if op != "same"):
            screen.print(f"  {op:<8} {name}")
    hosts = outcome.outputs.pop("hosts", None)
    admission = outcome.outputs.pop("admission", None)
    for key, value in sorted(outcome.outputs.items()):
        screen.print(f"{key}: {json.dumps(value, sort_keys=True)}")
    if hosts:
        screen.print(provisioned_table(hosts))
    if admission:
        screen.print(verdicts_table(admission))
        if any(r.get("quarantined") or r.get("unreachable") for r in admission.values()):
            raise typer.Exit(1)


def preview_command(
    stack: StackOption,
    stacks_dir: StacksDirOption = Path("stacks"),
    verbose: VerboseOption = False,
    provision: ProvisionOption = False,
    admit: AdmitOption = False,
    domain_policy: DomainPolicyOption = "unit",
) -> None:
    """Show what `up` would create, update, replace or delete."""
    run("preview", stack, stacks_dir, verbose, provision, admit, domain_policy)


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
    run("up", stack, stacks_dir, verbose, provision, admit, domain_policy)


def destroy_command(
    stack: StackOption, stacks_dir: StacksDirOption = Path("stacks"), verbose: VerboseOption = False
) -> None:
    """Delete every resource of the stack, and every file it wrote."""
    run("destroy", stack, stacks_dir, verbose)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("preview")(preview_command)
    app.command("up")(up_command)
    app.command("destroy")(destroy_command)

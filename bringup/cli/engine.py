"""`bringup preview | up | destroy`: the stack's resources through the Pulumi engine."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bringup.cli.admit import domain_policy as domain_policy_option
from bringup.cli.common import (
    StackOption,
    StacksDirOption,
    access_of,
    console,
    ledger,
    plan_stack,
    workspace,
)
from bringup.cli.tables import (
    operations_table,
    provisioned_table,
    scheduler_errors,
    verdicts_table,
)
from bringup.errors import BringupError
from bringup.lab import PASSPHRASE as LAB_PASSPHRASE
from bringup.plan.expectation import management_address
from bringup.spec import Cluster
from bringup.validation.checks import SUITE_SOURCES

if TYPE_CHECKING:  # the command line starts without the layers it does not use
    from bringup.infra.engine import EngineFailed

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
    # the engine, Pulumi's SDK and Ansible load only for the commands that use them
    from bringup.access import Access
    from bringup.admit.prepare import check_policy
    from bringup.infra.components import AdmitSettings
    from bringup.infra.engine import Engine, EngineFailed
    from bringup.provision.markers import read_records

    screen = console()
    cluster: Cluster | None
    try:
        ws, cluster, plan = plan_stack(stack, stacks_dir)
    except BringupError as error:
        if operation != "destroy":
            raise
        # destroy needs only the state: a declaration that is gone or broken must not keep
        # the stack's resources and files alive
        ws, cluster, plan = workspace(stacks_dir), None, None
        ws.stack(stack)  # still a name, never a path
        console(stderr=True).print(
            f"note: the declaration of stack {stack} does not load ({error.lines()[0]}); "
            "destroying what its state holds"
        )
    policy = domain_policy_option(domain_policy)
    settings = None
    access = Access()
    records = None
    if cluster is not None and plan is not None and (provision or admit):
        access = access_of(ws, stack, cluster)
        addresses = {n.name: management_address(plan, n) for n in plan.nodes}
        with screen.status(f"reading what the {len(addresses)} nodes were converged to"):
            records = read_records({n: a for n, a in addresses.items() if a}, access)
    if cluster is not None and plan is not None and admit:
        check_policy(policy, plan, [n.name for n in plan.nodes])
        with ledger(ws) as opened:
            repairs = opened.latest_repairs(stack)
            states = {s.node: s.state for s in opened.status(stack)}
        settings = AdmitSettings(str(policy), 1, ws.digest(*SUITE_SOURCES), repairs, states)
    via_lab = cluster is None or cluster.access.via == "lab"
    engine = Engine(
        ws,
        provision=provision,
        admit=settings,
        access=access,
        default_passphrase=LAB_PASSPHRASE if via_lab else None,
        notices=lambda line: console(stderr=True).print(f"note: {line}"),
        records=records,
    )
    echo = (lambda line: screen.print(line)) if verbose else None
    with _cancelled_by_signals(operation, stack) as interrupted:
        try:
            with screen.status(f"pulumi {operation} {stack}") if not verbose else nullcontext():
                outcome = getattr(engine, operation)(stack, cluster, echo)
        except EngineFailed as failed:
            _report_failure(failed, interrupted)
    if interrupted:
        _report_interruption(operation, stack, interrupted[0])
    screen.print(operations_table(f"{operation} {stack}", outcome.summary))
    done = "made right by this up" if operation == "up" else "up makes it right"
    for what, how in sorted(outcome.drift.items()):
        screen.print(f"drift: {what}: {how}; {done}")
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
        untold = scheduler_errors(admission)
        for line in untold:
            screen.print(line, soft_wrap=True, markup=False)
        if untold or any(r.get("quarantined") or r.get("unreachable") for r in admission.values()):
            raise typer.Exit(1)


@contextmanager
def _cancelled_by_signals(operation: str, stack: str) -> Iterator[list[int]]:
    """SIGINT and SIGTERM cancel the engine cleanly (it saves its state and releases its lock)
    instead of killing bringup under it; a second signal stops the engine at once. Yields the
    signals received."""
    from bringup.infra.engine import cancel

    received: list[int] = []

    def handle(signum: int, _frame: object) -> None:
        received.append(signum)
        if not cancel(signal.SIGINT if len(received) == 1 else signal.SIGTERM):
            # no engine running yet (waiting for a lock, writing its config): stop here
            _report_interruption(operation, stack, signum)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _report_failure(failed: EngineFailed, interrupted: list[int]) -> NoReturn:
    """One line per failed resource and where the whole log is; exit 1 (or the signal's)."""
    errors = console(stderr=True)
    if interrupted:
        _report_interruption(failed.operation, failed.stack, interrupted[0])
    errors.print(f"{failed.operation} {failed.stack} failed:")
    for name, line in sorted(failed.failures.items()):
        errors.print(f"  {name}: {line}")
    errors.print(f"the engine's log: {failed.log}")
    raise typer.Exit(1)


def _report_interruption(operation: str, stack: str, signum: int) -> NoReturn:
    console(stderr=True).print(
        f"{operation} {stack} interrupted by {signal.Signals(signum).name}: what finished is "
        f"recorded; `bringup {operation} --stack {stack}` again converges the rest"
    )
    raise typer.Exit(128 + signum)


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

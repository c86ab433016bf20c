"""`bringup admit | status | repaired`: judge nodes, show where they stand, record repairs."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bringup.admit.verdict import DomainPolicy, PolicyError
from bringup.cli.common import (
    StackOption,
    StacksDirOption,
    access_of,
    console,
    ledger,
    names,
    plan_stack,
)
from bringup.cli.plan import Format
from bringup.cli.tables import admission_table, domain_table, status_table
from bringup.errors import BringupError


class Via(StrEnum):
    """Where admission's burn-in and suite run from."""

    SSH = "ssh"
    SCHEDULER = "scheduler"


PolicyOption = Annotated[
    str,
    typer.Option("--domain-policy", help="NVLink domains: 'unit' (all trays) or 'quorum:N'."),
]


def domain_policy(value: str) -> DomainPolicy:
    """The --domain-policy option, parsed."""
    try:
        return DomainPolicy.parse(value)
    except PolicyError as error:
        raise BringupError(f"--domain-policy: {error}") from None


def admit_command(
    stack: StackOption = "lab",
    limit: Annotated[str | None, typer.Option(help="Comma-separated nodes to judge.")] = None,
    level: Annotated[
        int, typer.Option(min=1, max=4, help="DCGM diagnostic level of the burn-in.")
    ] = 1,
    policy: PolicyOption = "unit",
    burn_in: Annotated[
        bool, typer.Option("--burn-in/--no-burn-in", help="Burn in before validating.")
    ] = True,
    batch: Annotated[int, typer.Option(min=1, help="Nodes per burn-in and suite batch.")] = 64,
    via: Annotated[
        Via,
        typer.Option(
            help="ssh: burn in and validate from this controller over SSH; scheduler: as "
            "Slurm jobs on the nodes themselves, in a reservation of bringup's (fleet scale)."
        ),
    ] = Via.SSH,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Burn in, validate and judge nodes: admitted, quarantined (with findings) or unreachable;
    the scheduler releases the admitted ones and holds the others.

    Exit codes: 0 every node admitted and the scheduler told, 1 some node quarantined or
    unreachable, or the scheduler not told, 2 bad input or an unusable environment. An
    interrupted run of the same nodes is resumed.
    """
    from bringup.admit.admission import admit  # what admission needs, loaded when it runs
    from bringup.admit.prepare import admission_request

    ws, cluster, plan = plan_stack(stack, stacks_dir)
    request = admission_request(
        plan,
        ws.stack(stack),
        access_of(ws, stack, cluster),
        limit=names("--limit", limit),
        policy=domain_policy(policy),
        dcgm_level=level,
        burn_in=burn_in,
        batch=batch,
        via=via.value,
    )
    screen = console()
    with ledger(ws) as opened:
        result = admit(
            request,
            opened,
            on_phase=lambda phase, hosts: screen.print(f"{phase}: {len(hosts)} node(s)"),
        )
    screen.print(admission_table(result, plan))
    table = domain_table(result)
    if table is not None:
        screen.print(table)
    admitted = len(result.with_verdict("admitted"))
    screen.print(f"{admitted} of {len(result.verdicts)} node(s) admitted")
    told = result.scheduler
    if told.error is not None:
        console(stderr=True).print(
            f"error: scheduler {told.described} was not told: {told.error}; the verdicts are "
            "in the ledger, and the next admit of these nodes tells it"
        )
    else:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in told.counts().items())
        screen.print(f"scheduler {told.described}: {counts or 'nothing to tell'}")
    if admitted != len(result.verdicts) or told.error is not None:
        raise typer.Exit(1)


def status_command(
    stack: StackOption = "lab",
    output: Annotated[Format, typer.Option("--format", help="table or json")] = Format.TABLE,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Each node's state in the ledger, per rack, with its latest findings and since when, beside
    its state in the scheduler, flagged where the two disagree.

    Exit codes: 0 shown, 1 the scheduler could not be read (the ledger is shown all the same),
    2 bad input or an unusable environment.
    """
    from bringup.admit.standing import standings  # what status needs, loaded when it runs
    from bringup.scheduler.adapter import SchedulerError, adapter_for

    ws, cluster, plan = plan_stack(stack, stacks_dir)
    with ledger(ws) as opened:
        states = opened.status(stack)
    scheduler = adapter_for(access_of(ws, stack, cluster).scheduler)
    names = [n.name for n in plan.nodes]
    error = None
    try:
        read = scheduler.nodes(names) if scheduler.drives else None
    except SchedulerError as failure:
        read, error = None, " ".join(failure.lines())
    stood = standings(names, states, read)
    capacity = plan.capacity(s.node for s in states if s.state == "admitted")
    if output == Format.JSON:
        rows = [s.summary() for s in stood if s.ledger is not None or s.disagreement]
        told = {"adapter": scheduler.name, "read": read is not None, "error": error}
        typer.echo(json.dumps({"nodes": rows, "admitted": capacity, "scheduler": told}, indent=1))
    else:
        screen = console()
        screen.print(status_table(stack, stood, plan))
        for sku, row in capacity.items():
            screen.print(f"admitted {sku}: {row['nodes']} node(s), {row['gpus']} GPU(s)")
        if read is not None:
            disagree = sum(1 for s in stood if s.disagreement)
            screen.print(
                f"scheduler {scheduler.describe()}: {disagree} node(s) disagree with the ledger"
                + (" (marked !)" if disagree else "")
            )
        elif error is None:
            screen.print(f"scheduler {scheduler.describe()}")
    if error is not None:
        console(stderr=True).print(
            f"error: scheduler {scheduler.describe()} could not be read: {error}"
        )
        raise typer.Exit(1)


def repaired_command(
    node: Annotated[str, typer.Argument(help="The node repaired.")],
    note: Annotated[str, typer.Option(help="What was done (part swapped, RMA number).")],
    stack: StackOption = "lab",
    level: Annotated[
        int, typer.Option(min=1, max=4, help="DCGM diagnostic level of the repair's burn-in.")
    ] = 3,
    policy: PolicyOption = "unit",
    revalidate: Annotated[
        bool,
        typer.Option(
            "--revalidate/--mark-only",
            help="Prove the node now (burn-in, suite, back in service on a pass), or only "
            "record the repair for the next `admit` or `up --admit`.",
        ),
    ] = True,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Record that a node was repaired, then prove it again: burn-in at the repair level (DCGM
    level 3 by default), the validation suite, and on a pass back in service (its incidents
    closed, bringup's drain lifted; someone else's drain stays). On a fail it stays out, with
    the new findings. The ledger keeps the whole life: admitted, incident, quarantined,
    repaired, burn-in, revalidated, admitted.

    Exit codes: 0 admitted again (or marked, with --mark-only), 1 still out (quarantined or
    unreachable) or the scheduler not told, 2 bad input or an unusable environment.
    """
    ws, cluster, plan = plan_stack(stack, stacks_dir)
    if node not in plan.by_name:
        raise BringupError(f"node {node!r}: not in stack {stack!r}")
    from bringup.admit.prepare import check_policy

    parsed = domain_policy(policy)  # bad input is refused before the mark is written
    check_policy(parsed, plan, [node])
    screen = console()
    with ledger(ws) as opened:
        opened.mark_repaired(stack, node, note)
    screen.print(f"{node}: repaired ({note})", soft_wrap=True, markup=False)
    if not revalidate:
        return
    from bringup.admit.admission import admit  # what revalidation needs, loaded when it runs
    from bringup.admit.prepare import admission_request

    request = admission_request(
        plan,
        ws.stack(stack),
        access_of(ws, stack, cluster),
        limit=[node],
        policy=parsed,
        dcgm_level=level,
        burn_in=True,
        batch=1,
    )
    with ledger(ws) as opened:
        result = admit(
            request,
            opened,
            on_phase=lambda phase, hosts: screen.print(f"{phase}: {len(hosts)} node(s)"),
        )
        verdict = result.verdicts[node]
        closed = [
            i.id
            for i in opened.incidents(stack, node=node, status="closed")
            if i.resolution == f"admitted again by run {result.run_id}"
        ]
    screen.print(admission_table(result, plan))
    told = result.scheduler.outcomes.get(node)
    if verdict.verdict == "admitted":
        shown = ", ".join(f"#{i}" for i in closed) or "none open"
        screen.print(f"{node}: admitted again; incidents closed: {shown}", soft_wrap=True)
        if told is not None:
            screen.print(f"scheduler: {told.describe()}", soft_wrap=True, markup=False)
    else:
        screen.print(f"{node}: {verdict.verdict}; it stays out", soft_wrap=True)
    if result.scheduler.error is not None:
        console(stderr=True).print(
            f"error: scheduler {result.scheduler.described} was not told: {result.scheduler.error}",
            soft_wrap=True,
            markup=False,
        )
    if verdict.verdict != "admitted" or result.scheduler.error is not None:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("admit")(admit_command)
    app.command("status")(status_command)
    app.command("repaired")(repaired_command)

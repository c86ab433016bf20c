"""`bringup incidents`: the nodes that failed their health checks in service, and what was done.

Newest first, one row per incident: the part and check at fault, what the scheduler did, how
long the node took from its first failing observation to its drain, the jobs it was running and
where its evidence is. When the circuit breaker holds any drain, that comes first and loudly:
nodes the checks call broken are still taking jobs, and somebody has to decide.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from bringup.cli.common import StackOption, StacksDirOption, console, ledger, load_stack
from bringup.cli.plan import Format
from bringup.cli.tables import INCIDENT_STYLES, incidents_table

if TYPE_CHECKING:  # the command line starts without the layers it does not use
    from bringup.admit.ledger import Incident

_BREAKER_PREFIX = "circuit breaker: "  # how bringup.health.breaker starts a reason


def incidents_command(
    stack: StackOption = "lab",
    output: Annotated[Format, typer.Option("--format", help="table or json")] = Format.TABLE,
    only_open: Annotated[
        bool, typer.Option("--open", help="Only the incidents not closed: open and held.")
    ] = False,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """The incidents of nodes in service, newest first: the part at fault, what the scheduler
    did, time to drain, the jobs on the node, its evidence folder; drains held by the circuit
    breaker first.

    Exit codes: 0 shown, 2 bad input or an unusable environment.
    """
    from bringup.admit.ledger import UNCLOSED  # what incidents needs, loaded when it runs

    ws, _ = load_stack(stack, stacks_dir)
    with ledger(ws) as opened:
        found = opened.incidents(stack, status=UNCLOSED if only_open else None)
    loud = breaker_line(found)
    if output == Format.JSON:
        if loud is not None:
            console(stderr=True).print(Text(loud, style="bold red"))  # stderr: one line
        held = [i for i in found if i.status == "held"]
        typer.echo(
            json.dumps(
                {
                    "stack": stack,
                    "incidents": [i.summary() for i in found],
                    "held": len(held),
                    "breaker": held[0].breaker if held else None,
                },
                indent=1,
            )
        )
        return
    screen = console()
    if loud is not None:
        screen.print(Text(loud, style="bold red"), soft_wrap=True)  # one line, however long
    screen.print(incidents_table(stack, found))
    counts = {status: sum(1 for i in found if i.status == status) for status in INCIDENT_STYLES}
    screen.print(
        f"{len(found)} incident(s)"
        + (f": {', '.join(f'{n} {s}' for s, n in counts.items() if n)}" if found else "")
    )


def breaker_line(incidents: Sequence[Incident]) -> str | None:
    """``circuit breaker open: N incident(s) held: <reason>``, the newest held one's reason;
    None when no drain is held."""
    held = [i for i in incidents if i.status == "held"]
    if not held:
        return None
    reason = held[0].breaker.removeprefix(_BREAKER_PREFIX) or "no reason recorded"
    return f"circuit breaker open: {len(held)} incident(s) held: {reason}"


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("incidents")(incidents_command)

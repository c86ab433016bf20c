"""`bringup metrics`: a stack's metrics for Prometheus, for a scrape or node-exporter's textfile
collector.

It reads the plan, the ledger (node states, incidents, admission runs) and the drill summaries
kept in .state/drills/<stack>/, and writes them as the official client does
(bringup.report.metrics): to stdout, or with --out to a file replaced atomically, so that the
collector never reads half of one. Run it from a timer into the collector's folder, e.g.
``bringup metrics --stack gb200-su --out /var/lib/node_exporter/textfile/bringup-gb200-su.prom``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bringup.atomic import write_atomic
from bringup.cli.common import StackOption, StacksDirOption, ledger, plan_stack
from bringup.errors import BringupError


class TextFormat(StrEnum):
    """The text formats of `bringup metrics`."""

    PROMETHEUS = "prometheus"
    OPENMETRICS = "openmetrics"


def metrics_command(
    stack: StackOption = "lab",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write to this file, replaced atomically (a textfile collector's *.prom), "
            "not to stdout.",
        ),
    ] = None,
    text_format: Annotated[
        TextFormat,
        typer.Option(
            "--format",
            help="prometheus: the text format the textfile collector reads; openmetrics: "
            "for a scrape that asks for it.",
        ),
    ] = TextFormat.PROMETHEUS,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """A stack's metrics in the Prometheus text format: nodes by SKU, rack and state, planned
    and admitted GPUs, incidents by kind, check and status, admission runs and the latest
    finished run's duration, the latest drill of each fault kind.

    Exit codes: 0 written, 2 bad input or an unusable environment (an unreadable drill summary,
    a file that cannot be written).
    """
    from bringup.report.metrics import StackMetrics, exposition
    from bringup.report.sources import read_drills

    ws, _, plan = plan_stack(stack, stacks_dir)
    drills = read_drills(ws.stack(stack).drills)
    with ledger(ws) as opened:
        metrics = StackMetrics(
            stack,
            plan,
            opened.status(stack),
            opened.incidents(stack),
            opened.runs(stack),
            drills,
            datetime.now(UTC),
        )
    text = exposition(metrics, text_format.value)
    if out is None:
        typer.echo(text.decode(), nl=False)
        return
    try:
        write_atomic(out, text)
    except OSError as error:
        raise BringupError(f"--out {out}: cannot write it: {error.strerror or error}") from None


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("metrics")(metrics_command)

"""`bringup report`: one self-contained HTML page of a stack, for people to look at.

It reads the plan, the ledger, the scheduler (when the stack has one that answers) and the kept
drill summaries, and writes DIR/index.html atomically: a reader of the folder (a web server, a
wall screen reloading it) sees the old page or the new one, never a part.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bringup.atomic import write_atomic
from bringup.cli.common import (
    StackOption,
    StacksDirOption,
    access_of,
    ledger,
    plan_stack,
)
from bringup.errors import BringupError
from bringup.plan import Plan
from bringup.spec import Cluster
from bringup.workspace import Workspace

if TYPE_CHECKING:  # the command line starts without the layers it does not use
    from bringup.report.model import SchedulerRead

PAGE = "index.html"


def report_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write index.html into.")],
    stack: StackOption = "lab",
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Read the nodes' states from the stack's scheduler (said in the page if it "
            "does not answer).",
        ),
    ] = True,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Write the stack's report, DIR/index.html, and print its path: rack elevations coloured
    by state, the fabric with failing NICs' cables, capacity per SKU, incidents and findings.

    Exit codes: 0 written, 2 bad input or an unusable environment.
    """
    ws, cluster, plan = plan_stack(stack, stacks_dir)
    typer.echo(str(write_report(ws, stack, cluster, plan, out, scheduler=scheduler)))


def write_report(
    ws: Workspace,
    stack: str,
    cluster: Cluster,
    plan: Plan,
    out: Path,
    *,
    scheduler: bool = True,
    now: datetime | None = None,
) -> Path:
    """Write the report of `stack` into folder `out`; the page's path.

    The main job calls this at its end. BringupError when `out` is not a folder that can be
    written, the ledger cannot be read, or a kept drill summary is not one.
    """
    from bringup.admit.ledger import redact_url  # the drawing's layers, loaded when it runs
    from bringup.admit.prepare import LEDGER_URL_VARIABLE
    from bringup.report.model import build_report
    from bringup.report.page import report_html
    from bringup.report.sources import read_drills, read_ledger

    page = out / PAGE
    if out.exists() and not out.is_dir():
        raise BringupError(f"--out {out}: not a folder")
    if page.is_dir():
        raise BringupError(f"--out {out}: {PAGE} in it is a folder")
    url = os.environ.get(LEDGER_URL_VARIABLE)
    location = redact_url(url) if url else str(ws.ledger)
    with ledger(ws) as opened:
        read = read_ledger(opened, stack, location)
    drills_dir = ws.stack(stack).drills
    drills = read_drills(drills_dir)
    report = build_report(
        plan,
        stack,
        read,
        _scheduler(ws, stack, cluster, plan) if scheduler else _not_asked(cluster),
        drills,
        now or datetime.now(UTC),
        ws.root,
        sources=(
            ("declaration", str(ws.stack_file(stack))),
            ("plan", f"{len(plan.racks):,} racks, {len(plan.nodes):,} nodes, {plan.gpus:,} GPUs"),
            ("ledger", location),
            ("drills", f"{drills_dir} ({len(drills)} kept)"),
        ),
    )
    try:
        write_atomic(page, report_html(report).encode("utf-8"))
    except OSError as error:
        raise BringupError(f"--out {out}: cannot write {PAGE}: {error.strerror}") from None
    return page


def _scheduler(ws: Workspace, stack: str, cluster: Cluster, plan: Plan) -> SchedulerRead:
    """What the stack's scheduler says of its nodes; a scheduler that cannot be reached is said
    in the page."""
    from bringup.report.model import SchedulerRead
    from bringup.report.sources import read_scheduler
    from bringup.scheduler.adapter import adapter_for

    try:
        adapter = adapter_for(access_of(ws, stack, cluster).scheduler)
    except BringupError as error:
        return SchedulerRead(_declared(cluster), error=" ".join(error.lines()))
    return read_scheduler(adapter, [n.name for n in plan.nodes])


def _not_asked(cluster: Cluster) -> SchedulerRead:
    from bringup.report.model import SchedulerRead

    return SchedulerRead(_declared(cluster), error="not asked (--no-scheduler)")


def _declared(cluster: Cluster) -> str:
    """The scheduler the stack declares, by kind."""
    return str(cluster.scheduler.kind)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("report")(report_command)

"""`bringup health`: judge a node in service, on the node itself or from the controller.

On the node (Slurm's HealthCheckProgram and epilog run it every minute and after every job) it
reads the node's expectation from a host_vars file, so it needs no stack, no plan and no SSH.
This module loads none of the judges when the command line starts (every other command would
pay for them); the check loads them when it runs, and the plan and SSH only with ``--node``.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bringup.cli.common import StacksDirOption, access_of, plan_stack
from bringup.errors import BringupError
from bringup.health.verdict import HealthVerdict, Trigger

if TYPE_CHECKING:
    from bringup.plan import NodeExpectation

EXIT_HEALTHY, EXIT_DRAIN = 0, 1


class Format(StrEnum):
    """How the verdict is printed: the verdict object itself, or a line per finding."""

    JSON = "json"
    TABLE = "table"


def health_command(
    expected: Annotated[
        Path | None,
        typer.Option(
            "--expected",
            help="On the node: its host_vars file with bringup_expected (YAML or JSON).",
        ),
    ] = None,
    stack: Annotated[
        str | None, typer.Option("--stack", "-s", help="From the controller: the node's stack.")
    ] = None,
    node: Annotated[
        str | None, typer.Option("--node", help="From the controller: the node, over SSH.")
    ] = None,
    trigger: Annotated[
        Trigger, typer.Option(help="What runs the check: Slurm's interval, the epilog, a user.")
    ] = Trigger.CLI,
    output: Annotated[Format, typer.Option("--format", help="json or table")] = Format.TABLE,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Post a failing verdict to `bringup watch` at this URL (a healthy one is not "
            "sent: the watch acts on failures, and a node checks itself every minute).",
        ),
    ] = None,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Judge a node in service with the fast subset of the validation suite, and say what to do.

    Exit codes: 0 healthy (warnings allowed), 1 a critical finding (the node should be
    drained), 2 bad input or a node that cannot be judged. A verdict that could not be
    reported is said on stderr; the exit code stays the verdict's.
    """
    from bringup.health.collect import LOCAL, check

    if expected is not None and (stack is not None or node is not None):
        raise BringupError(
            "--expected judges this machine; --stack and --node judge a node over SSH: give one"
        )
    if expected is not None:
        verdict = check(_read_expected(expected), trigger, LOCAL)
    elif node is not None:
        verdict = _check_remote(stack or "lab", node, trigger, stacks_dir)
    else:
        raise BringupError("give --expected FILE (on the node) or --node NODE (from a controller)")
    if output == Format.JSON:
        sys.stdout.write(json.dumps(verdict.to_json(), sort_keys=True) + "\n")
    else:
        sys.stdout.write("".join(f"{line}\n" for line in table_lines(verdict)))
    sys.stdout.flush()
    if report is not None and verdict.drain:
        _report(report, verdict)
    raise typer.Exit(EXIT_DRAIN if verdict.drain else EXIT_HEALTHY)


def _read_expected(path: Path) -> NodeExpectation:
    from bringup.validation.expected import ExpectationError, read_expectation_file

    try:
        return read_expectation_file(path).expected
    except ExpectationError as error:  # a YAML error spans lines: the node's log keeps one
        raise BringupError(" ".join(f"--expected {error}".split())) from None


def _check_remote(stack: str, name: str, trigger: Trigger, stacks_dir: Path) -> HealthVerdict:
    """The node's verdict, judged from this controller over SSH with the stack's Access."""
    from bringup.health.collect import Remote, check
    from bringup.plan import node_expectation

    ws, cluster, plan = plan_stack(stack, stacks_dir)
    if name not in plan.by_name:
        raise BringupError(f"--node {name}: no such node in stack {stack}")
    expected = node_expectation(plan, plan.node(name))
    return check(expected, trigger, Remote.of(expected, access_of(ws, stack, cluster)))


def table_lines(verdict: HealthVerdict) -> list[str]:
    """The verdict in one line, then one line per finding in aligned columns: never wrapped,
    so that a node's log and a grep keep a finding whole."""
    from bringup.health.checks import advise

    state = "healthy" if verdict.healthy else f"drain: {verdict.action.value}"
    lines = [
        f"{verdict.node}: {state} ({verdict.severity.value}), {len(verdict.findings)} "
        f"finding(s) of {len(verdict.checks)} check(s), collected in {verdict.duration_s:.1f} s"
    ]
    if not verdict.findings:
        return lines
    rows = [("COMPONENT", "CHECK", "OBSERVED", "EXPECTED", "ACTION")]
    for judged in verdict.findings:
        finding, note = judged.finding, advise(judged.finding).note
        action = f"{judged.action.value} ({note})" if note else judged.action.value
        rows.append((finding.component, finding.check, finding.observed, finding.expected, action))
    cells = [[" ".join(cell.split()) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(rows[0]) - 1)]
    for row in cells:
        lines.append("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]))
    return lines


def _report(url: str, verdict: HealthVerdict) -> None:
    """Post the verdict; a failure is one line on stderr, never the verdict's exit code."""
    from bringup.health.report import post_verdict

    try:
        post_verdict(url, verdict.to_json())
    except BringupError as error:
        lines = error.lines()
        sys.stderr.write(f"error: verdict not reported: {' '.join(lines)}\n")


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("health")(health_command)

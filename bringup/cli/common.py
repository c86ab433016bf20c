"""What every command shares: the error edge, the stack options, loading and planning a stack,
and a console that prints values as they are (no markup, emoji or highlighting)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from bringup.access import Access, stack_access
from bringup.admit.ledger import Ledger, LedgerError
from bringup.admit.prepare import open_ledger
from bringup.errors import BringupError
from bringup.plan import Plan, make_plan
from bringup.spec import Cluster, SpecError, load_cluster, resolve_stack
from bringup.workspace import Workspace

EXIT_BAD_INPUT = 2


class ErrorEdge(TyperGroup):
    """The one place a BringupError becomes ``error: <line>`` on stderr and exit 2."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors its own click)
        try:
            return super().invoke(ctx)
        except BringupError as error:
            for line in error.lines():
                sys.stderr.write(f"error: {line}\n")
            raise typer.Exit(EXIT_BAD_INPUT) from None


def console(*, stderr: bool = False) -> Console:
    """A console that prints values literally: no markup, emoji codes or highlighting; 120
    columns when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(
        file=stream,
        markup=False,
        emoji=False,
        highlight=False,
        width=None if stream.isatty() else 120,
    )


StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name (stacks/Pulumi.<name>.yaml).")
]
StacksDirOption = Annotated[Path, typer.Option(help="Folder of Pulumi.<stack>.yaml files.")]


def workspace(stacks_dir: Path) -> Workspace:
    """The project of this command: the working directory, with its stacks folder."""
    return Workspace(Path.cwd(), stacks=stacks_dir)


def load(path: Path, label: str, ws: Workspace) -> Cluster:
    """The declaration in `path`; a missing one names the known stacks."""
    if not path.exists():
        known = ", ".join(ws.known_stacks()) or "none"
        raise SpecError(str(path), [f"stack {label!r}: no file {path}; known stacks: {known}"])
    return load_cluster(path)


def load_stack(stack: str, stacks_dir: Path) -> tuple[Workspace, Cluster]:
    """The workspace and declaration of stack `stack` (a name, never a path)."""
    ws = workspace(stacks_dir)
    return ws, load(ws.stack_file(stack), stack, ws)


def plan_stack(stack: str, stacks_dir: Path) -> tuple[Workspace, Cluster, Plan]:
    """The workspace, declaration and plan of stack `stack`."""
    ws, cluster = load_stack(stack, stacks_dir)
    return ws, cluster, make_plan(cluster)


def load_any(stack: str, stacks_dir: Path) -> Cluster:
    """A declaration from a stack name, a stack file or a YAML path (what `plan` accepts)."""
    ws = workspace(stacks_dir)
    return load(resolve_stack(stack, stacks_dir), stack, ws)


def access_of(ws: Workspace, stack: str, cluster: Cluster) -> Access:
    """How the stack's nodes are reached, as its declaration says."""
    return stack_access(ws, stack, cluster.access)


@contextmanager
def ledger(ws: Workspace) -> Iterator[Ledger]:
    """The workspace's ledger; its errors are said as ``ledger: ...``."""
    try:
        with open_ledger(ws) as opened:
            yield opened
    except LedgerError as error:
        lines = (
            line if line.startswith("ledger ") else f"ledger: {line}" for line in error.lines()
        )
        raise BringupError("\n".join(lines)) from None


def names(option: str, value: str | None) -> list[str] | None:
    """A comma-separated list of names; None when the option was not given. An empty list or
    an empty name is refused: it would silently mean every node."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",")]
    if not value.strip() or any(not item for item in items):
        raise BringupError(f"{option}: expected comma-separated names, got {value!r}")
    return items

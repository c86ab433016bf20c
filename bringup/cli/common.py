"""What every command shares: the error edge, the stack options, loading and planning a stack,
and a console that prints values as they are (no markup, emoji or highlighting)."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from bringup.access import Access, stack_access
from bringup.cli.crashlog import internal_line, one_line, write_log
from bringup.errors import BringupError
from bringup.plan import Plan, make_plan
from bringup.spec import Cluster, SpecError, load_cluster
from bringup.workspace import Workspace

if TYPE_CHECKING:  # the command line starts without the layers it does not use
    from bringup.admit.ledger import Ledger

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


class ErrorEdge(TyperGroup):
    """Where every exception of a command ends, and no traceback gets past.

    A BringupError (bad input, an unusable environment) becomes ``error: <line>`` lines on
    stderr and exit 2, and so does a usage error of the command line itself; Ctrl-C becomes
    ``interrupted`` and exit 130; anything else is a bug: one ``error: internal error: ...``
    line naming a log of its traceback under ``.state/logs/``, and exit 1.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """The group's own options (``bringup --bogus``): a usage error is one line too."""
        try:
            return super().parse_args(ctx, args)
        except NoArgsIsHelpError:
            raise
        except UsageError as error:
            _usage(error)

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors its own click)
        try:
            return super().invoke(ctx)
        except BringupError as error:
            _say(error_lines(error))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except NoArgsIsHelpError:
            raise  # typer prints the help
        except UsageError as error:
            _usage(error)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:
            if isinstance(error, OSError) and error.errno == errno.EPIPE:
                raise  # the reader of our output left (`| head`): typer exits 1 quietly
            _say([_internal(error)])
            raise typer.Exit(EXIT_INTERNAL) from None


def _usage(error: UsageError) -> NoReturn:
    hint = f"; try '{error.ctx.command_path} --help'" if error.ctx else ""
    _say([one_line(error.format_message().rstrip(".")) + hint])
    raise typer.Exit(EXIT_BAD_INPUT) from None


def error_lines(error: BringupError) -> list[str]:
    """What the user reads of `error`: its lines; a declaration with one problem in one line."""
    lines = error.lines()
    if isinstance(error, SpecError) and len(error.problems) == 1:
        return [f"{lines[0]} {error.problems[0]}"]
    return lines


def _say(lines: list[str]) -> None:
    sys.stderr.write("".join(f"error: {line}\n" for line in lines))


def _internal(error: Exception) -> str:
    """The user's line of a bug, after writing its traceback to the project's logs."""
    try:
        log = write_log(error, Workspace(Path.cwd()).logs)
    except Exception as failure:  # a full disk, a read-only project: say so, still one line
        return internal_line(error, None, f"{type(failure).__name__}: {failure}")
    return internal_line(error, log)


def console(*, stderr: bool = False) -> Console:
    """A console that prints values literally: no markup, emoji codes or highlighting; 120
    columns when not a terminal, and on stderr no line wrapped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(
        file=stream,
        markup=False,
        emoji=False,
        highlight=False,
        width=None if stream.isatty() else 120,
        soft_wrap=stderr,  # an error line stays one line, however long
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
    if not path.exists() and not path.is_symlink():
        known = ", ".join(ws.known_stacks()) or "none"
        raise BringupError(f"stack {label!r}: no file {one_line(str(path))}; known stacks: {known}")
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
    given = Path(stack)
    path = given if given.suffix in {".yaml", ".yml"} or given.exists() else ws.stack_file(stack)
    return load(path, stack, ws)


def access_of(ws: Workspace, stack: str, cluster: Cluster) -> Access:
    """How the stack's nodes and its scheduler are reached, as its declaration says."""
    return stack_access(ws, stack, cluster.access, cluster.scheduler)


@contextmanager
def ledger(ws: Workspace) -> Iterator[Ledger]:
    """The workspace's ledger; its errors are said as ``ledger: ...``."""
    from bringup.admit.ledger import LedgerError
    from bringup.admit.prepare import open_ledger

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

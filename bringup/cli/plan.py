"""`bringup plan`: the plan of a stack as tables or JSON, and plan.json and cabling.csv."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from contextlib import suppress
from enum import StrEnum
from itertools import takewhile
from pathlib import Path
from typing import IO, Annotated

import typer

from bringup.atomic import write_all
from bringup.cli.common import StacksDirOption, console, load_any
from bringup.cli.crashlog import one_line
from bringup.cli.tables import plan_tables
from bringup.errors import BringupError
from bringup.plan import make_plan, summary, write_cabling_csv, write_plan_json


class Format(StrEnum):
    """Output format of `bringup plan` and `bringup status`."""

    TABLE = "table"
    JSON = "json"


def plan_command(
    stack: Annotated[str, typer.Argument(help="Stack name, Pulumi stack file or YAML file.")],
    output: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
    out: Annotated[
        Path | None, typer.Option(help="Write plan.json and cabling.csv into this folder.")
    ] = None,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Plan a stack: nodes, NVLink domains, fabrics, cables, addresses, bill of materials."""
    plan = make_plan(load_any(stack, stacks_dir))
    data = summary(plan)
    if out is not None:
        write_out(
            out,
            {
                "plan.json": lambda handle: write_plan_json(plan, handle),
                "cabling.csv": lambda handle: write_cabling_csv(plan, handle),
            },
        )
    if output == Format.JSON:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return
    screen = console()
    for part in plan_tables(data):
        screen.print(part)


def write_out(out: Path, writers: Mapping[str, Callable[[IO[str]], object]]) -> None:
    """Write every file of `writers` into the --out folder, all or none; a failure leaves no
    folder it made behind and names the file, or the folder when no file is to blame."""
    if out.exists() and not out.is_dir():
        what = "a file" if out.is_file() else "not a folder"
        raise BringupError(f"--out: {one_line(str(out))} is {what}; expected a folder")
    made = list(takewhile(lambda folder: not folder.exists(), (out, *out.parents)))
    try:
        write_all(out, {name: _naming(out / name, write) for name, write in writers.items()})
    except OSError as error:
        for folder in made:  # the deepest first; one that is not empty stays
            with suppress(OSError):
                folder.rmdir()
        targets = {str(out / name) for name in writers}
        where = error.filename if error.filename in targets else out
        why = error.strerror or str(error)
        raise BringupError(f"--out: cannot write {one_line(str(where))}: {why}") from None


def _naming(path: Path, write: Callable[[IO[str]], object]) -> Callable[[IO[str]], None]:
    """`write`, flushed before it returns, so that a failed write (a full disk, a file size
    limit) is raised here, as an OSError naming `path`."""

    def written(handle: IO[str]) -> None:
        try:
            write(handle)
            handle.flush()
        except OSError as error:
            if error.errno is None:
                raise
            raise OSError(error.errno, error.strerror, str(path)) from error

    return written


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("plan")(plan_command)

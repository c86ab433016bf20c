"""`bringup plan`: the plan of a stack as tables or JSON, and plan.json and cabling.csv."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bringup.atomic import write_all
from bringup.cli.common import StacksDirOption, console, load_any
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
        try:
            write_all(
                out,
                {
                    "plan.json": lambda handle: write_plan_json(plan, handle),
                    "cabling.csv": lambda handle: write_cabling_csv(plan, handle),
                },
            )
        except OSError as error:
            where = error.filename or out
            raise BringupError(f"--out: cannot write {where}: {error.strerror}") from None
    if output == Format.JSON:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return
    screen = console()
    for part in plan_tables(data):
        screen.print(part)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("plan")(plan_command)

"""The ``bringup`` command line: one module per command group, tables in one place.

Every command goes through one error edge (:class:`ErrorEdge`): a BringupError (bad input, an
unusable environment) becomes its lines on stderr, ``error: ...``, and exit 2; any other
exception is a bug, said in one line that names a log of its traceback under ``.state/logs/``,
and exit 1; Ctrl-C is ``interrupted`` and exit 130. No traceback reaches a user. The modules
hold argument handling and output only: the work is done by the layers they call.
"""

from __future__ import annotations

import typer

from bringup.cli import (
    admit,
    engine,
    health,
    incidents,
    lab,
    metrics,
    plan,
    provision,
    report,
    watch,
)
from bringup.cli.common import EXIT_BAD_INPUT, ErrorEdge

app = typer.Typer(
    name="bringup",
    cls=ErrorEdge,
    help="Take a GPU cluster from a declaration to validated, schedulable capacity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group in (plan, engine, provision, admit, health, incidents, watch, report, metrics):
    group.register(app)
app.add_typer(lab.app, name="lab")


def main() -> None:
    """Entry point of the ``bringup`` script."""
    app()


__all__ = ["EXIT_BAD_INPUT", "app", "main"]

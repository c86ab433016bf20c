"""The one error type a user sees: bad input or an unusable environment, said in plain lines.

Every layer raises its own subclass (SpecError, PlanError, LedgerError, LabError…); the command
line's single error edge prints :meth:`BringupError.lines` and exits 2. Anything else that
escapes is a bug, never the user's fault.

>>> BringupError("stack 'x': no file stacks/Pulumi.x.yaml").lines()
["stack 'x': no file stacks/Pulumi.x.yaml"]
"""

from __future__ import annotations


class BringupError(Exception):
    """An error bringup reports to its user as plain lines, never as a traceback."""

    def lines(self) -> list[str]:
        """What to print: one problem per line, no empty lines."""
        return [line for line in str(self).splitlines() if line.strip()] or [type(self).__name__]

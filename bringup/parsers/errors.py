"""The one error every parser raises on text it cannot read."""

from __future__ import annotations


class ParseError(ValueError):
    """Tool output a parser cannot read: names the tool, the line number and the offending text.

    >>> str(ParseError("ibstat", 3, "bogus", "expected 'key: value'"))
    "ibstat: line 3: expected 'key: value': 'bogus'"
    """

    def __init__(self, tool: str, lineno: int, line: str, reason: str) -> None:
        self.tool = tool
        self.lineno = lineno
        self.line = line
        self.reason = reason
        super().__init__(f"{tool}: line {lineno}: {reason}: {line[:200]!r}")

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, int, str, str]]:
        return (ParseError, (self.tool, self.lineno, self.line, self.reason))

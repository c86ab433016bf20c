"""Small helpers shared by the parsers: lines, "not available" markers, numbers with units."""

from __future__ import annotations

import re

from bringup.parsers.errors import ParseError

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# What the NVIDIA tools print where a value does not exist, lower-cased.
NOT_AVAILABLE = frozenset(
    {
        "",
        "n/a",
        "[n/a]",
        "not available",
        "not supported",
        "[not supported]",
        "unknown error",
        "[unknown error]",
        "insufficient permissions",
        "[insufficient permissions]",
        "requested functionality has been deprecated",
        "[requested functionality has been deprecated]",
    }
)

# What authors put in place of the lines they left out of a pasted excerpt.
ELISION_MARKERS = frozenset({"...", "[...]", "\u2026", "[\u2026]"})

_LEADING_INT = re.compile(r"^\s*([-+]?\d+)(?![\d.])")
_LEADING_FLOAT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_TRUE = frozenset({"enabled", "yes", "active", "on", "true"})
_FALSE = frozenset({"disabled", "no", "not active", "off", "false"})


def split_lines(text: str) -> list[str]:
    """Lines of `text` without their line ends; line i (0-based) is line number i + 1."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def require_lines(tool: str, text: str) -> list[str]:
    """The lines of `text`, or ParseError when there is nothing but whitespace."""
    if not text.strip():
        raise ParseError(tool, 1, text[:40], "empty input")
    return split_lines(text)


def first_content(lines: list[str]) -> tuple[int, str]:
    """Line number and text of the first non-blank line (1, '' when there is none)."""
    for index, line in enumerate(lines):
        if line.strip():
            return index + 1, line
    return 1, ""


def is_elision(line: str) -> bool:
    """True for a line that stands for lines left out of a paste ('...', '[...]', U+2026)."""
    return line.strip() in ELISION_MARKERS


def strip_ansi(line: str) -> str:
    """`line` without terminal escape sequences (nvidia-smi topo -m underlines its header)."""
    return ANSI_ESCAPE.sub("", line)


def is_not_available(value: str | None) -> bool:
    """True for None and for the markers the tools print in place of a value ('N/A', '[N/A]'...)."""
    return value is None or value.strip().lower() in NOT_AVAILABLE


def leading_int(value: str | None) -> int | None:
    """The integer a value starts with ('81559 MiB' -> 81559, '16x' -> 16), else None."""
    if value is None:
        return None
    match = _LEADING_INT.match(value)
    return int(match.group(1)) if match else None


def leading_float(value: str | None) -> float | None:
    """The number a value starts with ('69.85 W' -> 69.85, '41 C' -> 41.0), else None."""
    if value is None:
        return None
    match = _LEADING_FLOAT.match(value)
    return float(match.group(1)) if match else None


def flag(value: str | None) -> bool | None:
    """Enabled/Yes/Active -> True, Disabled/No/Not Active -> False, anything else -> None."""
    if value is None:
        return None
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None

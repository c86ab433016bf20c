"""`nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` (and the other --query-*).

Rows are dicts keyed by the query field names, values as printed (str). The header's unit
suffixes ("memory.total [MiB]") are stripped from the keys and kept in QueryCsv.units. With
`noheader` the caller passes the field names it queried. Use csv_number / csv_int to read
numbers: they return None for "[N/A]" and the other not-available markers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bringup.parsers._text import is_elision, is_not_available, require_lines
from bringup.parsers.errors import ParseError

TOOL = "nvidia-smi --query --format=csv"

_HEADER_FIELD = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?:\s+\[(?P<unit>[^\]]+)\])?$")
_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)(?:\s*%|\s+[A-Za-z/]+)?\s*$")


@dataclass(frozen=True, slots=True)
class QueryCsv:
    """The rows of a --query-* CSV, keyed by field name."""

    fields: tuple[str, ...]
    rows: tuple[Mapping[str, str], ...]
    units: Mapping[str, str] = field(default_factory=dict)
    elided: bool = False  # an excerpt with "[...]" (or "...") in place of rows

    def column(self, name: str) -> tuple[str, ...]:
        """Every row's value of one field, or KeyError when it was not queried."""
        if name not in self.fields:
            raise KeyError(name)
        return tuple(row[name] for row in self.rows)


def parse_query_csv(text: str, fields: Sequence[str] | None = None) -> QueryCsv:
    """Parse --format=csv output; pass `fields` (the names queried) for `noheader` output.

    >>> parse_query_csv("name, memory.total [MiB]\\nNVIDIA H100, 81559 MiB\\n").rows[0]
    {'name': 'NVIDIA H100', 'memory.total': '81559 MiB'}
    """
    lines = require_lines(TOOL, text)
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    header_no, header_line = numbered[0]
    header = _header(header_line)
    units: dict[str, str] = {}
    if header is not None and (fields is None or [name for name, _ in header] == list(fields)):
        names = [name for name, _ in header]
        units = {name: unit for name, unit in header if unit}
        numbered = numbered[1:]
    elif fields is not None:
        names = list(fields)
    else:
        raise ParseError(TOOL, header_no, header_line, "no header line; pass fields= for noheader")
    rows: list[dict[str, str]] = []
    elided = False
    for lineno, line in numbered:
        if is_elision(line):
            elided = True
            continue
        values = next(csv.reader([line], skipinitialspace=True, quoting=csv.QUOTE_NONE))
        if len(values) != len(names):
            reason = f"{len(values)} values for {len(names)} fields"
            raise ParseError(TOOL, lineno, line, reason)
        rows.append({name: value.strip() for name, value in zip(names, values, strict=True)})
    return QueryCsv(fields=tuple(names), rows=tuple(rows), units=units, elided=elided)


def _header(line: str) -> list[tuple[str, str | None]] | None:
    """(name, unit) per header field, or None when the line is not a header."""
    parsed: list[tuple[str, str | None]] = []
    for cell in line.split(","):
        match = _HEADER_FIELD.match(cell.strip())
        if match is None:
            return None
        parsed.append((match.group("name"), match.group("unit")))
    return parsed


def csv_number(value: str) -> float | None:
    """A CSV value as a number ('81559 MiB' -> 81559.0, '100.00 %', '0x1F'), None if N/A."""
    if is_not_available(value):
        return None
    if value.strip().lower().startswith("0x"):
        return float(int(value.strip(), 16))
    match = _NUMBER.match(value)
    if match is None:
        raise ValueError(f"not a number: {value!r}")
    return float(match.group(1))


def csv_int(value: str) -> int | None:
    """A CSV value as an integer (decimal, '0x'-hex or with a unit), None if N/A."""
    if is_not_available(value):
        return None
    number = csv_number(value)
    if number is None or not number.is_integer():
        raise ValueError(f"not an integer: {value!r}")
    return int(number)


def csv_missing(value: str) -> bool:
    """True when a CSV value is one of the not-available markers ('[N/A]', 'N/A', ...)."""
    return is_not_available(value)

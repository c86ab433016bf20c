"""perftest (`ib_write_bw`, `ib_read_bw`, `ib_send_bw`, the `_lat` siblings): header and results.

The header's "Key : value" pairs (two per line in some versions) go to PerftestResult.fields;
the results table is read by its column titles, so the BW and the latency layouts both parse.
Bandwidth is kept in the unit the tool printed (Gb/sec with --report_gbits, else MB/sec).
A capture cut after the column titles yields a result with no rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError

TOOL = "perftest"

_TITLE = re.compile(r"^(?P<title>[\w ]+? (?:BW|Lat|Latency) Test)$")
_RULE = re.compile(r"^-{10,}$")
_BANNER = re.compile(r"^\*+(?: .* \*)?$")
_FIELD = re.compile(r"\s*(?P<key>[^:\t]+?)\s*:\s*(?P<value>\S+)")
_ADDRESS = re.compile(r"^(?P<side>local|remote) address: (?P<value>.*)$")
_COLUMN_SPLIT = re.compile(r"\s{2,}")
_UNIT = re.compile(r"\[(?P<unit>[^\]]+)\]$")


@dataclass(frozen=True, slots=True)
class PerftestRow:
    """One results row, by column title ('#bytes', 'BW average[Gb/sec]', 't_avg[usec]', ...)."""

    values: Mapping[str, float]

    def _starting(self, prefix: str) -> float | None:
        return next((v for k, v in self.values.items() if k.startswith(prefix)), None)

    @property
    def size_bytes(self) -> int:
        """The message size."""
        return int(self.values["#bytes"])

    @property
    def iterations(self) -> int | None:
        """The iteration count, when printed."""
        value = self.values.get("#iterations")
        return int(value) if value is not None else None

    @property
    def bw_peak(self) -> float | None:
        """Peak bandwidth in PerftestResult.bw_unit (0.00 in --duration mode)."""
        return self._starting("BW peak")

    @property
    def bw_average(self) -> float | None:
        """Average bandwidth in PerftestResult.bw_unit."""
        return self._starting("BW average")

    @property
    def msg_rate_mpps(self) -> float | None:
        """Message rate in millions of packets per second."""
        return self._starting("MsgRate")


@dataclass(frozen=True, slots=True)
class PerftestResult:
    """One perftest run as printed by one side."""

    test: str  # "RDMA_Write BW Test"
    fields: Mapping[str, str]  # "Device" -> "mlx5_0", "Link type" -> "Ethernet", ...
    columns: tuple[str, ...]
    rows: tuple[PerftestRow, ...]
    local_address: str | None = None
    remote_address: str | None = None
    notes: tuple[str, ...] = field(default=())  # other lines, e.g. CPU frequency warnings

    @property
    def bw_unit(self) -> str | None:
        """The bandwidth unit of the table ('Gb/sec' or 'MB/sec'), None for latency tests."""
        for column in self.columns:
            found = _UNIT.search(column)
            if column.startswith("BW") and found:
                return found.group("unit")
        return None


def parse_perftest(text: str) -> PerftestResult:
    """Parse the output of ib_write_bw or a sibling perftest binary."""
    lines = require_lines(TOOL, text)
    test: str | None = None
    fields: dict[str, str] = {}
    columns: list[str] = []
    rows: list[PerftestRow] = []
    addresses: dict[str, str] = {}
    notes: list[str] = []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or _RULE.match(line) or _BANNER.match(line) or line.startswith("GID:"):
            continue
        if test is None:
            if found := _TITLE.match(line):
                test = found.group("title")
            elif not line.startswith("*"):
                notes.append(line)
            continue
        if line.startswith("#bytes"):
            columns = _COLUMN_SPLIT.split(line)
        elif columns and line[0].isdigit():
            rows.append(_row(lineno, raw, columns))
        elif found := _ADDRESS.match(line):
            addresses[found.group("side")] = found.group("value")
        elif not columns and ":" in line:
            fields.update(_fields(line))
        else:
            notes.append(line)
    if test is None:
        lineno, line = first_content(lines)
        raise ParseError(TOOL, lineno, line, "no '<operation> BW Test' title")
    return PerftestResult(
        test=test,
        fields=fields,
        columns=tuple(columns),
        rows=tuple(rows),
        local_address=addresses.get("local"),
        remote_address=addresses.get("remote"),
        notes=tuple(notes),
    )


def _fields(line: str) -> dict[str, str]:
    return {found.group("key").strip(): found.group("value") for found in _FIELD.finditer(line)}


def _row(lineno: int, raw: str, columns: list[str]) -> PerftestRow:
    cells = raw.split()
    if len(cells) != len(columns):
        raise ParseError(TOOL, lineno, raw, f"{len(cells)} values for {len(columns)} columns")
    try:
        return PerftestRow(dict(zip(columns, map(float, cells), strict=True)))
    except ValueError as error:
        raise ParseError(TOOL, lineno, raw, "a results value is not a number") from error

"""nvbandwidth: per testcase its bandwidth matrix and the "SUM <testcase> <value>" line.

No real capture was available. The format follows NVIDIA/nvbandwidth (README.md; output.cpp
and the PeerValueMatrix printer in inline_common.h): version and device lines, then per testcase
"Running <name>.", a description line ending in "(GB/s)" or "(ns)", a header of column labels,
one line per row (label, then values or N/A), a blank line and "SUM <name> <value>". A testcase
that fails after "Running" prints "<status>: <message>" in place of the matrix; a waived one
prints only "Waived: " (without its name), which is kept in NvbandwidthReport.notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError

TOOL = "nvbandwidth"

_RUNNING = re.compile(r"^Running (?P<name>\S+)\.$")
_SUM = re.compile(r"^SUM (?P<name>\S+) (?P<value>\S+)$")
_STATS = re.compile(r"^(?:MIN|MAX|AVG) \S+ \S+$")  # verbose-only lines
_STATUS = re.compile(r"^(?P<status>[A-Z][A-Za-z ]*): (?P<message>.+)$")
_DEVICE = re.compile(r"^Device (?P<index>\d+): (?P<name>.+?)(?: \((?P<bus>[0-9a-fA-F:.]+)\))?$")
_HEADER_VALUES = {
    "nvbandwidth Version": "version",
    "Built from Git version": "git_version",
    "CUDA Runtime Version": "cuda_runtime_version",
    "CUDA Driver Version": "cuda_driver_version",
    "Driver Version": "driver_version",
}


@dataclass(frozen=True, slots=True)
class NvbandwidthDevice:
    """One 'Device N: name (bus id)' line."""

    index: int
    name: str
    bus_id: str | None


@dataclass(frozen=True, slots=True)
class NvbandwidthTestcase:
    """One testcase: its matrix (rows x columns, None for N/A) and SUM, or why it did not run."""

    name: str
    description: str | None = None  # "memcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)"
    column_labels: tuple[str, ...] = ()
    row_labels: tuple[str, ...] = ()
    matrix: tuple[tuple[float | None, ...], ...] = ()
    sum: float | None = None
    status: str | None = None  # "Waived", "ERROR", ... when no matrix was printed
    message: str | None = None

    @property
    def ran(self) -> bool:
        """True when the testcase printed a matrix."""
        return bool(self.matrix)

    def value(self, row: str, column: str) -> float | None:
        """The value at (row label, column label); KeyError for an unknown label."""
        return self.matrix[self.row_labels.index(row)][self.column_labels.index(column)]


@dataclass(frozen=True, slots=True)
class NvbandwidthReport:
    """A whole nvbandwidth run."""

    testcases: tuple[NvbandwidthTestcase, ...]
    devices: tuple[NvbandwidthDevice, ...] = ()
    version: str | None = None
    cuda_runtime_version: str | None = None
    driver_version: str | None = None
    notes: tuple[str, ...] = ()  # lines outside testcases: "Waived: ", the closing NOTE, ...

    def testcase(self, name: str) -> NvbandwidthTestcase:
        """The testcase of this name, or KeyError."""
        for case in self.testcases:
            if case.name == name:
                return case
        raise KeyError(name)


def parse_nvbandwidth(text: str) -> NvbandwidthReport:
    """Parse nvbandwidth's plain-text output."""
    lines = require_lines(TOOL, text)
    header: dict[str, str] = {}
    devices: list[NvbandwidthDevice] = []
    cases: list[NvbandwidthTestcase] = []
    notes: list[str] = []
    case: _Case | None = None
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if running := _RUNNING.match(line):
            if case is not None:
                cases.append(case.build())
            case = _Case(running.group("name"), lineno)
        elif case is not None:
            if case.add(lineno, raw):
                cases.append(case.build())
                case = None
        elif device := _DEVICE.match(line):
            index, name, bus = device.group("index", "name", "bus")
            devices.append(NvbandwidthDevice(int(index), name, bus))
        elif ": " in line and line.split(": ", 1)[0] in _HEADER_VALUES:
            key, value = line.split(": ", 1)
            header[_HEADER_VALUES[key]] = value.strip()
        elif line:
            notes.append(line)  # "Waived: " (no name), the closing NOTE, ...
    if case is not None:
        cases.append(case.build())
    if not cases:
        lineno, line = first_content(lines)
        raise ParseError(TOOL, lineno, line, "no 'Running <testcase>.' line")
    return NvbandwidthReport(
        testcases=tuple(cases),
        devices=tuple(devices),
        version=header.get("version"),
        cuda_runtime_version=header.get("cuda_runtime_version"),
        driver_version=header.get("driver_version"),
        notes=tuple(notes),
    )


@dataclass
class _Case:
    """A testcase being read, line by line."""

    name: str
    lineno: int
    description: str | None = None
    columns: tuple[str, ...] | None = None
    rows: list[tuple[str, tuple[float | None, ...]]] = field(default_factory=list)
    rows_done: bool = False
    total: float | None = None
    status: tuple[str, str] | None = None

    def add(self, lineno: int, raw: str) -> bool:
        """Take one line of the testcase; True when it closes the testcase."""
        line = raw.strip()
        if not line:
            self.rows_done = bool(self.rows)
            return False
        if _STATS.match(line):
            return False
        if found := _SUM.match(line):
            self.total = _number(lineno, raw, found.group("value"))
            return True
        if self.description is None:
            status = _STATUS.match(line)
            if status and not line.endswith(")"):
                self.status = (status.group("status"), status.group("message"))
                return True
            self.description = line
        elif self.columns is None:
            self.columns = tuple(line.split())
        elif self.rows_done:
            raise ParseError(TOOL, lineno, raw, f"testcase {self.name}: expected its SUM line")
        else:
            cells = line.split()
            if len(cells) != len(self.columns) + 1:
                reason = f"expected a label and {len(self.columns)} values"
                raise ParseError(TOOL, lineno, raw, reason)
            values = tuple(None if c == "N/A" else _number(lineno, raw, c) for c in cells[1:])
            self.rows.append((cells[0], values))
        return False

    def build(self) -> NvbandwidthTestcase:
        if self.status is not None:
            return NvbandwidthTestcase(self.name, status=self.status[0], message=self.status[1])
        if not self.rows:
            reason = f"testcase {self.name} has no matrix (truncated?)"
            raise ParseError(TOOL, self.lineno, f"Running {self.name}.", reason)
        return NvbandwidthTestcase(
            name=self.name,
            description=self.description,
            column_labels=self.columns or (),
            row_labels=tuple(label for label, _ in self.rows),
            matrix=tuple(values for _, values in self.rows),
            sum=self.total,
        )


def _number(lineno: int, line: str, value: str) -> float:
    try:
        return float(value)
    except ValueError as error:
        raise ParseError(TOOL, lineno, line, f"{value!r} is not a number") from error

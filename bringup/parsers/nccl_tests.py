"""nccl-tests (`all_reduce_perf` and siblings): header, devices, results table, averages.

Launcher tags are stripped first: srun's "0: " (--label) and Open MPI's "[1,0]<stdout>:"
(--tag-output). The leading '#' of comment lines is optional, since pasted copies lose it.

When the requested maxBytes does not fit in GPU memory, nccl-tests prints "Reducing maxBytes to
<n> due to memory limitation" after the header and runs up to <n> (nccl-tests src/common.cu):
max_bytes is then <n>, and requested_max_bytes keeps the header's value.

A run that never produced a table is not a parse failure when the text says why: an Open MPI
or srun error banner, or an NCCL/CUDA failure line. That yields a result with `failure` set and
no rows. Text with neither a table nor such a failure is a ParseError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError

TOOL = "nccl-tests"

_PREFIX = re.compile(r"^(?:\[\d+,\d+\]<std(?:out|err)>:|\d+: )")
_PARAMETERS = re.compile(
    r"nThread (?P<threads>\d+) nGpus (?P<gpus>\d+) minBytes (?P<min>\d+) maxBytes (?P<max>\d+)"
    r"(?: step: (?P<step>\S+))?(?: warmup iters: (?P<warmup>\d+))?(?: iters: (?P<iters>\d+))?"
)
_DEVICE = re.compile(
    r"^Rank\s+(?P<rank>\d+)(?:\s+Group\s+(?P<group>\d+))?\s+Pid\s+(?P<pid>\d+)\s+on\s+"
    r"(?P<host>\S+)\s+device\s+(?P<device>\d+)\s+\[(?P<bus>[^\]]*)\]\s+(?P<name>.+)$"
)
_COLUMNS = re.compile(r"^size\s+count\s+type\s+redop\b")
_ROW_START = re.compile(r"^\s+\d+\s+\d+\s+\w+")
_AVG = re.compile(r"^Avg bus bandwidth\s*:\s*(?P<value>[\d.]+)")
_BOUNDS = re.compile(r"^Out of bounds values\s*:\s*(?P<count>\d+)\s+(?P<verdict>\w+)")
_VERSION = re.compile(r"^NCCL version (?P<version>\S+)")
_REDUCED = re.compile(r"^Reducing maxBytes to (?P<bytes>\d+)")
_FAILURE = re.compile(
    r"There are not enough slots|mpirun noticed|prterun|ORTE has lost|srun: error|"
    r"Test NCCL failure|Test CUDA failure|NCCL WARN|NCCL error|Segmentation fault|"
    r"MPI_ABORT|Primary job\s+terminated"
)


@dataclass(frozen=True, slots=True)
class NcclDevice:
    """One rank of the run ('#  Rank  0 Group  0 Pid 123 on host device  0 [bus] name')."""

    rank: int
    group: int | None
    pid: int
    host: str
    device: int
    bus_id: str
    name: str


@dataclass(frozen=True, slots=True)
class NcclTiming:
    """One half (out-of-place or in-place) of a results row."""

    time_us: float
    algbw_gbps: float
    busbw_gbps: float
    wrong: int | None  # "#wrong" (newer nccl-tests); None when printed as N/A
    error: float | None = None  # the max error column of older nccl-tests


@dataclass(frozen=True, slots=True)
class NcclRow:
    """One message size of the results table."""

    size_bytes: int
    count: int
    type: str
    redop: str
    root: int | None  # None in the older layout, which has no root column
    out_of_place: NcclTiming
    in_place: NcclTiming


@dataclass(frozen=True, slots=True)
class NcclTestsResult:
    """A whole nccl-tests run, or the failure that stopped it before any table."""

    rows: tuple[NcclRow, ...]
    devices: tuple[NcclDevice, ...] = ()
    n_threads: int | None = None
    n_gpus: int | None = None
    min_bytes: int | None = None
    max_bytes: int | None = None  # the largest size the run used (after any reduction)
    requested_max_bytes: int | None = None  # the header's maxBytes, set only when reduced
    iters: int | None = None
    nccl_version: str | None = None
    out_of_bounds: int | None = None
    avg_busbw_gbps: float | None = None
    failure: str | None = None

    @property
    def failed(self) -> bool:
        """True when the run failed, printed no rows, or reported wrong results."""
        wrong = any(
            (timing.wrong or 0) > 0
            for row in self.rows
            for timing in (row.out_of_place, row.in_place)
        )
        return bool(self.failure) or not self.rows or wrong or bool(self.out_of_bounds)

    @property
    def peak_busbw_gbps(self) -> float | None:
        """The highest bus bandwidth of any row, in or out of place."""
        values = [t.busbw_gbps for row in self.rows for t in (row.out_of_place, row.in_place)]
        return max(values) if values else None

    def row(self, size_bytes: int) -> NcclRow:
        """The row for a message size, or KeyError."""
        for row in self.rows:
            if row.size_bytes == size_bytes:
                return row
        raise KeyError(size_bytes)


def parse_nccl_tests(text: str) -> NcclTestsResult:
    """Parse the output of an nccl-tests binary such as all_reduce_perf."""
    lines = require_lines(TOOL, text)
    columns: list[str] | None = None
    rows: list[NcclRow] = []
    devices: list[NcclDevice] = []
    parameters: re.Match[str] | None = None
    values: dict[str, str] = {}
    failure_lines: list[str] = []
    in_failure = False  # a failure message runs on to the next blank line
    for lineno, raw in enumerate(lines, start=1):
        line = _PREFIX.sub("", raw, count=1)
        if columns is not None and _ROW_START.match(line):
            rows.append(_row(lineno, raw, line.split(), columns))
            continue
        body = line.strip().lstrip("#").strip()
        in_failure = in_failure and bool(body)
        if not body:
            continue
        if in_failure or _FAILURE.search(body):
            failure_lines.append(body)
            in_failure = True
        elif _COLUMNS.match(body):
            columns = body.split()
        elif found := _PARAMETERS.search(body):
            parameters = found
            values.pop("reduced", None)  # a reduction belongs to the header before it
        elif found := _REDUCED.match(body):
            values["reduced"] = found.group("bytes")
        elif found := _DEVICE.match(body):
            devices.append(_device(found))
        elif found := _VERSION.match(body):
            values["version"] = found.group("version")
        elif found := _AVG.match(body):
            values["avg"] = found.group("value")
        elif found := _BOUNDS.match(body):
            values["bounds"] = found.group("count")
    if not rows and not failure_lines:
        lineno, line = first_content(lines)
        raise ParseError(TOOL, lineno, line, "no results table and no failure message")
    requested_max = _group_int(parameters, "max")
    reduced = int(values["reduced"]) if "reduced" in values else None
    return NcclTestsResult(
        rows=tuple(rows),
        devices=tuple(devices),
        n_threads=_group_int(parameters, "threads"),
        n_gpus=_group_int(parameters, "gpus"),
        min_bytes=_group_int(parameters, "min"),
        max_bytes=reduced if reduced is not None else requested_max,
        requested_max_bytes=requested_max if reduced is not None else None,
        iters=_group_int(parameters, "iters"),
        nccl_version=values.get("version"),
        out_of_bounds=int(values["bounds"]) if "bounds" in values else None,
        avg_busbw_gbps=float(values["avg"]) if "avg" in values else None,
        failure=" ".join(failure_lines) or None,
    )


def _group_int(match: re.Match[str] | None, name: str) -> int | None:
    value = match.group(name) if match is not None else None
    return int(value) if value is not None else None


def _device(found: re.Match[str]) -> NcclDevice:
    return NcclDevice(
        rank=int(found.group("rank")),
        group=int(found.group("group")) if found.group("group") else None,
        pid=int(found.group("pid")),
        host=found.group("host"),
        device=int(found.group("device")),
        bus_id=found.group("bus"),
        name=found.group("name").strip(),
    )


def _row(lineno: int, raw: str, cells: list[str], columns: list[str]) -> NcclRow:
    """A results row; `columns` is the header ('size count type redop [root] time ...')."""
    start = 5 if "root" in columns else 4  # then 4 values out of place, 4 in place
    if len(columns) != start + 8 or len(cells) != len(columns):
        raise ParseError(TOOL, lineno, raw, f"{len(cells)} values for {len(columns)} columns")
    check = columns[start + 3]  # "#wrong", or "error" in older nccl-tests
    try:
        return NcclRow(
            size_bytes=int(cells[0]),
            count=int(cells[1]),
            type=cells[2],
            redop=cells[3],
            root=int(cells[4]) if start == 5 else None,
            out_of_place=_timing(cells[start : start + 4], check),
            in_place=_timing(cells[start + 4 : start + 8], check),
        )
    except ValueError as error:
        raise ParseError(TOOL, lineno, raw, f"not a results row ({error})") from error


def _timing(cells: list[str], check_column: str) -> NcclTiming:
    time, algbw, busbw, check = cells
    if check_column == "error":
        return NcclTiming(float(time), float(algbw), float(busbw), None, float(check))
    wrong = None if check == "N/A" else int(check)
    return NcclTiming(float(time), float(algbw), float(busbw), wrong)

"""`fio --output-format=json`: per job, its name, error code and read/write throughput.

fio prints one JSON document; warnings it writes before it ("fio: ...") when stdout and stderr
share a file are skipped up to the first line that opens the document. Bandwidth is read from
`bw_bytes` (bytes per second); fio versions older than 3.x only print `bw` in KiB/s, which is
converted. A job with a non-zero `error` is kept: the caller judges it.

>>> r = parse_fio('{"fio version": "fio-3.33", "jobs": [{"jobname": "w", "error": 0, '
...     '"read": {"io_bytes": 0, "bw_bytes": 0, "iops": 0}, '
...     '"write": {"io_bytes": 1048576, "bw_bytes": 524288000, "iops": 500.0}}]}')
>>> r.jobs[0].write.gbs
0.524288
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bringup.parsers._text import split_lines
from bringup.parsers.errors import ParseError

TOOL = "fio --output-format=json"


@dataclass(frozen=True, slots=True)
class FioIo:
    """One direction (read or write) of one job."""

    io_bytes: int
    bw_bytes: float  # bytes per second
    iops: float

    @property
    def gbs(self) -> float:
        """Throughput in GB/s (10^9 bytes per second), the unit storage floors are given in."""
        return self.bw_bytes / 1e9


@dataclass(frozen=True, slots=True)
class FioJob:
    """One job of a run: `--name=...` on the command line."""

    name: str
    error: int
    read: FioIo
    write: FioIo


@dataclass(frozen=True, slots=True)
class FioReport:
    """A whole fio run."""

    version: str | None
    jobs: tuple[FioJob, ...]

    def job(self, name: str) -> FioJob:
        """The job named `name`, or KeyError."""
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)


def parse_fio(text: str) -> FioReport:
    """Parse the JSON document fio prints with --output-format=json."""
    lines = split_lines(text)
    start = next((i for i, line in enumerate(lines) if line.startswith("{")), None)
    if start is None:
        first = next((line for line in lines if line.strip()), "")
        raise ParseError(TOOL, 1, first, "no JSON document")
    try:
        document = json.loads("\n".join(lines[start:]))
    except json.JSONDecodeError as exc:
        lineno = start + exc.lineno
        raise ParseError(TOOL, lineno, lines[lineno - 1], f"bad JSON ({exc.msg})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
        raise ParseError(TOOL, start + 1, lines[start], "no 'jobs' list")
    jobs = tuple(_job(lines, start, entry) for entry in document["jobs"])
    version = document.get("fio version")
    return FioReport(str(version) if version is not None else None, jobs)


def _job(lines: list[str], start: int, entry: Any) -> FioJob:
    if not isinstance(entry, dict) or "jobname" not in entry:
        raise ParseError(TOOL, start + 1, lines[start], "a job without 'jobname'")
    return FioJob(
        name=str(entry["jobname"]),
        error=int(entry.get("error") or 0),
        read=_io(entry.get("read")),
        write=_io(entry.get("write")),
    )


def _io(data: Any) -> FioIo:
    if not isinstance(data, dict):
        return FioIo(0, 0.0, 0.0)
    # fio 2.x prints only `bw`, in KiB/s
    bw = float(data["bw_bytes"]) if "bw_bytes" in data else float(data.get("bw") or 0) * 1024
    return FioIo(int(data.get("io_bytes") or 0), bw, float(data.get("iops") or 0))

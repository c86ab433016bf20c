"""The log format NVIDIA's fabric daemons share (nv-fabricmanager, nvidia-imex).

An entry is ``[Feb 25 2025 13:59:45] [INFO] [tid 1803] message``; the lines that follow it
without such a prefix (message payloads, device tables) belong to it. A daemon also prints
banner lines ("... Log initializing at: ...") and, before its log is open, plain
``WARNING: ...`` lines to stderr; those become entries without a timestamp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from bringup.parsers._text import first_content
from bringup.parsers.errors import ParseError

_ENTRY = re.compile(
    r"^\[(?P<ts>[A-Z][a-z]{2} +\d{1,2} \d{4} \d{2}:\d{2}:\d{2})\] \[(?P<severity>[A-Z]+)\] "
    r"\[tid (?P<tid>\d+)\] ?(?P<message>.*)$"
)
_PLAIN = re.compile(r"^(?P<severity>ERROR|WARNING|WARN|INFO|DEBUG|FATAL): (?P<message>.*)$")
_BANNER = re.compile(r"^(?P<daemon>.+?) Log initializing at: (?P<when>.+)$")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry and its continuation lines."""

    lineno: int
    severity: str  # "INFO", "WARNING", "ERROR", ...
    message: str
    timestamp: datetime | None = None
    thread_id: int | None = None
    continuation: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DaemonLog:
    """The entries of a log and its 'Log initializing' banners."""

    entries: tuple[LogEntry, ...]
    banners: tuple[str, ...] = ()

    def with_severity(self, *severities: str) -> tuple[LogEntry, ...]:
        """The entries of the given severities ('ERROR', 'FATAL', ...)."""
        wanted = {severity.upper() for severity in severities}
        return tuple(entry for entry in self.entries if entry.severity in wanted)


def parse_daemon_log(tool: str, lines: list[str]) -> DaemonLog:
    """Entries and banners of a fabric-daemon log; `tool` names the daemon in errors."""
    entries: list[tuple[LogEntry, list[str]]] = []  # each entry with its continuation lines
    banners: list[str] = []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if found := _ENTRY.match(line):
            when = datetime.strptime(" ".join(found.group("ts").split()), "%b %d %Y %H:%M:%S")
            severity, tid, message = found.group("severity", "tid", "message")
            entries.append((LogEntry(lineno, severity, message, when, int(tid)), []))
        elif found := _PLAIN.match(line):
            entries.append((LogEntry(lineno, found.group("severity"), found.group("message")), []))
        elif _BANNER.match(line):
            banners.append(line.strip())
        elif entries:
            entries[-1][1].append(line)
        else:
            raise ParseError(tool, lineno, line, "expected '[<date>] [<SEVERITY>] [tid N] ...'")
    if not entries:
        lineno, line = first_content(lines)
        raise ParseError(tool, lineno, line, "no log entry")
    return DaemonLog(
        entries=tuple(replace(entry, continuation=tuple(more)) for entry, more in entries),
        banners=tuple(banners),
    )

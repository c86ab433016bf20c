"""NVRM Xid events from a kernel log (dmesg, dmesg -T, dmesg --time-format=iso, syslog).

Only the "NVRM: Xid (PCI:<addr>): <n>, ..." lines are events; every other line is skipped. A
line that mentions "NVRM: Xid" but is not of that form is a ParseError: a silently dropped Xid
would pass a faulty GPU. So is text in which no line looks like a kernel log line (a dmesg,
ISO, ctime or syslog prefix, or an NVRM message): that is not a log with no Xids. The timestamp
is read from whichever prefix the line carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError

TOOL = "dmesg Xid"

_XID = re.compile(
    r"NVRM: Xid \(PCI:(?P<pci>[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}(?:\.[0-7])?)\): "
    r"(?P<xid>\d+), (?P<rest>.*)$"
)
_PID = re.compile(r"^pid=(?P<pid>'<unknown>'|<unknown>|\d+), ")
_NAME = re.compile(r"^name=(?P<name>[^,]*), ")
_ISO = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)
_CTIME = re.compile(r"\[(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4})\]")
_UPTIME = re.compile(r"\[\s*(?P<seconds>\d+\.\d+)\]")
_KERNEL_LINE = re.compile(
    r"^\s*\[\s*\d+\.\d+\]|^\[[A-Z][a-z]{2} [A-Z][a-z]{2} |^\d{4}-\d{2}-\d{2}T\d{2}:|"
    r"^[a-z]+\s*:[a-z]+\s*: |^[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} |NVRM: "
)
_SYSLOG = re.compile(r"^(?P<ts>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}) (?P<host>\S+) kernel:")


@dataclass(frozen=True, slots=True)
class XidEvent:
    """One Xid reported by the NVIDIA driver."""

    lineno: int
    pci_address: str  # "0000:18:00" as printed by NVRM (domain:bus:device)
    xid: int
    message: str
    pid: int | None = None  # None for '<unknown>' or when the driver printed none
    process: str | None = None
    timestamp: datetime | None = None  # ISO prefix (with zone) or dmesg -T (local, naive)
    uptime_seconds: float | None = None  # dmesg's "[ 1234.567890]"
    timestamp_text: str | None = None  # the prefix as printed, e.g. a syslog date without year
    host: str | None = None  # syslog's host field


def parse_xid_log(text: str) -> tuple[XidEvent, ...]:
    """Every Xid event of a kernel log, in order.

    >>> event, = parse_xid_log("[ 12.5] NVRM: Xid (PCI:0000:18:00): 79, pid=1, GPU has fallen off")
    >>> (event.xid, event.pci_address, event.uptime_seconds)
    (79, '0000:18:00', 12.5)
    """
    lines = require_lines(TOOL, text)
    if not any(_KERNEL_LINE.search(line) for line in lines):
        lineno, line = first_content(lines)
        raise ParseError(TOOL, lineno, line, "not a kernel log (no dmesg, ISO or syslog prefix)")
    events: list[XidEvent] = []
    for lineno, line in enumerate(lines, start=1):
        if "NVRM: Xid" not in line:
            continue
        found = _XID.search(line)
        if found is None:
            raise ParseError(TOOL, lineno, line, "expected 'NVRM: Xid (PCI:<address>): <n>, ...'")
        events.append(_event(lineno, line[: found.start()], found))
    return tuple(events)


def _event(lineno: int, prefix: str, found: re.Match[str]) -> XidEvent:
    rest = found.group("rest")
    pid: int | None = None
    process: str | None = None
    if pid_match := _PID.match(rest):
        pid = int(pid_match.group("pid")) if pid_match.group("pid").isdigit() else None
        rest = rest[pid_match.end() :]
        if name_match := _NAME.match(rest):
            name = name_match.group("name")
            process = None if name == "<unknown>" else name
            rest = rest[name_match.end() :]
    timestamp, uptime, text, host = _timestamp(prefix)
    return XidEvent(
        lineno=lineno,
        pci_address=found.group("pci"),
        xid=int(found.group("xid")),
        message=rest.strip(),
        pid=pid,
        process=process,
        timestamp=timestamp,
        uptime_seconds=uptime,
        timestamp_text=text,
        host=host,
    )


def _timestamp(prefix: str) -> tuple[datetime | None, float | None, str | None, str | None]:
    """(timestamp, uptime seconds, timestamp as printed, syslog host) from a line's prefix."""
    uptime_match = _UPTIME.search(prefix)
    uptime = float(uptime_match.group("seconds")) if uptime_match else None
    syslog = _SYSLOG.match(prefix)
    host = syslog.group("host") if syslog else None
    if iso := _ISO.search(prefix):
        fraction = (iso.group("frac") or "")[:6].ljust(6, "0")
        zone = (iso.group("tz") or "").replace("Z", "+00:00")
        parsed = datetime.fromisoformat(f"{iso.group('ts')}.{fraction}{zone}")
        return parsed, uptime, iso.group(0), host
    if ctime := _CTIME.search(prefix):
        parsed = datetime.strptime(" ".join(ctime.group("ts").split()), "%a %b %d %H:%M:%S %Y")
        return parsed, uptime, ctime.group("ts"), host
    if syslog:
        return None, uptime, syslog.group("ts"), host
    return None, uptime, uptime_match.group(0) if uptime_match else None, host

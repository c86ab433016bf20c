"""NVRM Xid events from a kernel log (dmesg, dmesg -T, dmesg --time-format=iso, syslog).

Two kinds of driver message are events (XidEvent.kind); every other line is skipped:

- "xid": a "NVRM: Xid (PCI:<addr>): <n>, ..." line.
- "fallen-off-bus": the driver saying a GPU has fallen off the bus in a line that is not an Xid
  line. It carries xid 79, the Xid NVIDIA assigns to "GPU has fallen off the bus", so a check
  that fails on Xid 79 fails on it too. The driver prints it in two forms (NVIDIA's
  open-gpu-kernel-modules at df1c9a3, src/nvidia/...):
  at run time "NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus." (osHandleGpuLost in
  arch/nvalloc/unix/src/osinit.c), after an Xid 79 line or, when a Hopper or Blackwell GPU
  takes a SEC_FAULT, with no Xid 79 at all (src/kernel/gpu/arch/hopper/kern_gpu_gh100.c); and
  when the driver loads, a three-line record "NVRM: The NVIDIA GPU 0000:b3:00.0 / NVRM: (PCI
  ID: 10de:2330) installed in this system has / NVRM: fallen off the bus and is not responding
  to commands." (rm_is_supported_device in arch/nvalloc/unix/src/osapi.c), with no Xid. The
  event's line is the record's first line.

One lost GPU often yields two events, an "xid" 79 and a "fallen-off-bus", one per driver line:
count Xids over the events of kind "xid", and lost GPUs over the distinct pci_address of
events with xid 79. Every pci_address is domain:bus:device ("0000:3b:00"), the form of the Xid
line, whichever form the driver printed. The "NVRM: GPU at PCI:<addr>: GPU-<uuid>" line that
the driver prints before a GPU's first Xid (src/kernel/gpu/rc/kernel_rc.c) is no event: it
names the UUID that later events of that address carry (XidEvent.gpu_uuid).

A line that mentions "NVRM: Xid", or an NVRM line that says "fallen off the bus", in none of
these forms is a ParseError: a silently dropped event would pass a faulty GPU. So is text in
which no line looks like a kernel log line (a dmesg, ISO, ctime or syslog prefix, or an NVRM
message): that is not a log with no Xids. The timestamp is read from whichever prefix the line
carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError

TOOL = "dmesg Xid"
FALLEN_OFF_BUS_XID = 79  # NVIDIA's Xid for "GPU has fallen off the bus"

_ADDRESS = r"[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}"  # domain:bus:device
_XID = re.compile(
    rf"NVRM: Xid \(PCI:(?P<pci>{_ADDRESS}(?:\.[0-7])?)\): (?P<xid>\d+), (?P<rest>.*)$"
)
_LOST_AT_RUN_TIME = re.compile(
    rf"NVRM: GPU (?P<pci>{_ADDRESS})(?:\.[0-7])?: (?P<message>GPU has fallen off the bus\.?)\s*$"
)
_LOST_AT_LOAD_START = re.compile(rf"NVRM: The NVIDIA GPU (?P<pci>{_ADDRESS})(?:\.[0-7])?\b")
_LOST_AT_LOAD_END = "fallen off the bus and is not responding to commands"
_LOAD_RECORD_LINES = 3  # the load-time message is one three-line record
_FALLEN = "fallen off the bus"
_UUID = re.compile(rf"NVRM: GPU at PCI:(?P<pci>{_ADDRESS}): (?P<uuid>GPU-[0-9A-Fa-f-]+)\s*$")
_NVRM_TEXT = re.compile(r"NVRM: (?P<text>.*)$")
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


XidKind = Literal["xid", "fallen-off-bus"]


@dataclass(frozen=True, slots=True)
class XidEvent:
    """One Xid reported by the NVIDIA driver, or a GPU it says has fallen off the bus (xid 79)."""

    lineno: int
    pci_address: str  # "0000:18:00": domain:bus:device, as in the Xid line
    xid: int
    message: str
    pid: int | None = None  # None for '<unknown>' or when the driver printed none
    process: str | None = None
    timestamp: datetime | None = None  # ISO prefix (with zone) or dmesg -T (local, naive)
    uptime_seconds: float | None = None  # dmesg's "[ 1234.567890]"
    timestamp_text: str | None = None  # the prefix as printed, e.g. a syslog date without year
    host: str | None = None  # syslog's host field
    kind: XidKind = "xid"  # "fallen-off-bus": no Xid line, the driver's own words (xid 79)
    gpu_uuid: str | None = None  # from an earlier "NVRM: GPU at PCI:<addr>: GPU-..." line


def parse_xid_log(text: str) -> tuple[XidEvent, ...]:
    """Every Xid event of a kernel log, and every GPU the driver says fell off the bus, in order.

    >>> event, = parse_xid_log("[ 12.5] NVRM: Xid (PCI:0000:18:00): 79, pid=1, GPU has fallen off")
    >>> (event.kind, event.xid, event.pci_address, event.uptime_seconds)
    ('xid', 79, '0000:18:00', 12.5)
    >>> lost, = parse_xid_log("[ 9.5] NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.")
    >>> (lost.kind, lost.xid, lost.pci_address, lost.uptime_seconds)
    ('fallen-off-bus', 79, '0000:3b:00', 9.5)
    """
    lines = require_lines(TOOL, text)
    if not any(_KERNEL_LINE.search(line) for line in lines):
        lineno, line = first_content(lines)
        raise ParseError(TOOL, lineno, line, "not a kernel log (no dmesg, ISO or syslog prefix)")
    events: list[XidEvent] = []
    uuids: dict[str, str] = {}  # device address -> the UUID the driver last named for it
    record: _LoadRecord | None = None
    for lineno, line in enumerate(lines, start=1):
        if record is not None and len(record.parts) >= _LOAD_RECORD_LINES:
            record = None
        if "NVRM: Xid" in line:
            found = _XID.search(line)
            if found is None:
                reason = "expected 'NVRM: Xid (PCI:<address>): <n>, ...'"
                raise ParseError(TOOL, lineno, line, reason)
            events.append(_xid_event(lineno, line[: found.start()], found, uuids))
        elif found := _UUID.search(line):
            uuids[found.group("pci").lower()] = found.group("uuid")
        elif found := _LOST_AT_RUN_TIME.search(line):
            prefix, pci = line[: found.start()], found.group("pci")
            events.append(_lost_event(lineno, prefix, pci, found.group("message"), uuids))
        elif found := _LOST_AT_LOAD_START.search(line):
            record = _LoadRecord(lineno, line[: found.start()], found.group("pci"))
            record.add(line)
        elif record is not None and "NVRM: " in line:
            record.add(line)
        elif "NVRM: " in line and _FALLEN in line:
            reason = (
                "a GPU fallen off the bus, but not as 'NVRM: GPU <address>: GPU has fallen off"
                " the bus.' nor in a record that opens 'NVRM: The NVIDIA GPU <address>'"
            )
            raise ParseError(TOOL, lineno, line, reason)
        if record is not None and record.lost:
            events.append(record.event(uuids))
            record = None
    return tuple(events)


@dataclass
class _LoadRecord:
    """The lines so far of the driver's multi-line load-time message about one GPU."""

    lineno: int
    prefix: str
    pci: str
    parts: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        found = _NVRM_TEXT.search(line)
        self.parts.append(found.group("text").strip() if found else line.strip())

    @property
    def lost(self) -> bool:
        """True once the record has said that the GPU fell off the bus."""
        return bool(self.parts) and _LOST_AT_LOAD_END in self.parts[-1]

    def event(self, uuids: dict[str, str]) -> XidEvent:
        return _lost_event(self.lineno, self.prefix, self.pci, " ".join(self.parts), uuids)


def _xid_event(lineno: int, prefix: str, found: re.Match[str], uuids: dict[str, str]) -> XidEvent:
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
    return _event(
        lineno, prefix, found.group("pci"), int(found.group("xid")), rest.strip(), uuids,
        pid=pid, process=process,
    )  # fmt: skip


def _lost_event(
    lineno: int, prefix: str, pci: str, message: str, uuids: dict[str, str]
) -> XidEvent:
    return _event(lineno, prefix, pci, FALLEN_OFF_BUS_XID, message, uuids, kind="fallen-off-bus")


def _event(
    lineno: int,
    prefix: str,
    pci: str,
    xid: int,
    message: str,
    uuids: dict[str, str],
    *,
    kind: XidKind = "xid",
    pid: int | None = None,
    process: str | None = None,
) -> XidEvent:
    """The event of a driver line: its time and host from the line's prefix, its GPU's UUID
    from an earlier line naming it."""
    timestamp, uptime, text, host = _timestamp(prefix)
    address = _device_address(pci)
    return XidEvent(
        lineno=lineno,
        pci_address=address,
        xid=xid,
        message=message,
        pid=pid,
        process=process,
        timestamp=timestamp,
        uptime_seconds=uptime,
        timestamp_text=text,
        host=host,
        kind=kind,
        gpu_uuid=uuids.get(address.lower()),
    )


def _device_address(pci: str) -> str:
    """'0000:3b:00' from '0000:3b:00' or '0000:3b:00.0': the form of the Xid line."""
    return pci.split(".", 1)[0]


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

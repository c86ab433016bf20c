"""The NVIDIA Fabric Manager log (/var/log/fabricmanager.log) of NVSwitch systems.

Beyond the entries themselves: the version from the startup banner, the NVSwitches from the
"dumping all the detected NVSwitch information" table of the last start, and every
"detected NVSwitch [non-]fatal error <code> on fid F on NVSwitch pci bus id B physical id P
port N" as an NvswitchError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bringup.parsers._daemon_log import DaemonLog, LogEntry, parse_daemon_log
from bringup.parsers._text import require_lines

TOOL = "fabricmanager log"

_VERSION = re.compile(r"^Fabric Manager version (?P<version>\S+) is running")
_SWITCH_ERROR = re.compile(
    r"detected NVSwitch (?P<kind>non-fatal|fatal) error (?P<code>\d+) on fid (?P<fid>\d+) "
    r"on NVSwitch pci bus id (?P<bus>\S+) physical id (?P<phys>\d+) port (?P<port>\d+)"
)
_SWITCH = re.compile(
    r"Index: (?P<index>\d+)\s+Physical Id: (?P<phys>\d+)\s+PCI Bus ID: (?P<bus>\S+)\s+"
    r"Enabled Link Mask: (?P<mask>\S+)\s+Arch Type: (?P<arch>\d+)\s+UUID : (?P<uuid>\S+)"
)
_TOPOLOGY = re.compile(r"^detected system topology is based on (?P<topology>.+)$")


@dataclass(frozen=True, slots=True)
class NvswitchError:
    """An NVSwitch error Fabric Manager detected."""

    entry: LogEntry
    fatal: bool
    code: int  # e.g. 12028
    fid: int
    pci_bus_id: str
    physical_id: int
    port: int


@dataclass(frozen=True, slots=True)
class NvswitchInfo:
    """One NVSwitch of Fabric Manager's device dump."""

    index: int
    physical_id: int
    pci_bus_id: str
    enabled_link_mask: str
    arch_type: int
    uuid: str


@dataclass(frozen=True, slots=True)
class FabricManagerLog:
    """A Fabric Manager log: its entries and what they say about the fabric."""

    log: DaemonLog
    version: str | None
    topology: str | None
    nvswitches: tuple[NvswitchInfo, ...]
    nvswitch_errors: tuple[NvswitchError, ...]

    @property
    def errors(self) -> tuple[LogEntry, ...]:
        """The ERROR and FATAL entries."""
        return self.log.with_severity("ERROR", "FATAL")

    @property
    def fatal_nvswitch_errors(self) -> tuple[NvswitchError, ...]:
        """The NVSwitch errors that are fatal (the fabric must be reset)."""
        return tuple(error for error in self.nvswitch_errors if error.fatal)


def parse_fabricmanager_log(text: str) -> FabricManagerLog:
    """Parse a Fabric Manager log."""
    log = parse_daemon_log(TOOL, require_lines(TOOL, text))
    version: str | None = None
    topology: str | None = None
    switches: tuple[NvswitchInfo, ...] = ()
    errors: list[NvswitchError] = []
    for entry in log.entries:
        if found := _VERSION.match(entry.message):
            version = found.group("version")
        elif found := _TOPOLOGY.match(entry.message):
            topology = found.group("topology")
        elif entry.message.startswith("dumping all the detected NVSwitch information"):
            switches = tuple(
                NvswitchInfo(
                    index=int(m.group("index")),
                    physical_id=int(m.group("phys")),
                    pci_bus_id=m.group("bus"),
                    enabled_link_mask=m.group("mask"),
                    arch_type=int(m.group("arch")),
                    uuid=m.group("uuid"),
                )
                for line in entry.continuation
                if (m := _SWITCH.search(line))
            )
        elif found := _SWITCH_ERROR.search(entry.message):
            errors.append(
                NvswitchError(
                    entry=entry,
                    fatal=found.group("kind") == "fatal",
                    code=int(found.group("code")),
                    fid=int(found.group("fid")),
                    pci_bus_id=found.group("bus"),
                    physical_id=int(found.group("phys")),
                    port=int(found.group("port")),
                )
            )
    return FabricManagerLog(
        log=log,
        version=version,
        topology=topology,
        nvswitches=switches,
        nvswitch_errors=tuple(errors),
    )

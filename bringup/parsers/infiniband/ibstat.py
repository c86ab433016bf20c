"""`ibstat`: per channel adapter (CA), its firmware and GUIDs, and the state of every port.

ibstat can stop part way ("ibpanic: ... failed") and exit 255 after printing the CAs it did
read; those lines are kept in IbstatReport.errors, and the report counts as failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.parsers._text import first_content, leading_float, leading_int, require_lines
from bringup.parsers.errors import ParseError

TOOL = "ibstat"

_CA = re.compile(r"^CA '(?P<name>[^']+)'$")
_PORT = re.compile(r"^Port (?P<port>\d+):$")
_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]*?):\s*(?P<value>.*)$")
_ERROR = re.compile(r"^(ibpanic|ibwarn|iberror|ibstat):")


@dataclass(frozen=True, slots=True)
class IbPort:
    """One port of a CA."""

    number: int
    state: str | None  # Active, Down, Initializing, Armed
    physical_state: str | None  # LinkUp, Disabled, Polling, ...
    rate: float | None  # Gb/s
    base_lid: int | None
    sm_lid: int | None
    lmc: int | None
    capability_mask: str | None
    port_guid: str | None
    link_layer: str | None  # InfiniBand or Ethernet (RoCE)

    @property
    def active(self) -> bool:
        """True when the port is Active with its physical link up."""
        return self.state == "Active" and self.physical_state == "LinkUp"


@dataclass(frozen=True, slots=True)
class IbCa:
    """One channel adapter (HCA)."""

    name: str
    ca_type: str | None
    number_of_ports: int | None
    firmware_version: str | None
    hardware_version: str | None
    node_guid: str | None
    system_image_guid: str | None
    ports: tuple[IbPort, ...]
    fields: Mapping[str, str] = field(default_factory=dict)  # everything printed, as printed


@dataclass(frozen=True, slots=True)
class IbstatReport:
    """Every CA ibstat printed, and the errors it printed (ibpanic) if it stopped early."""

    cas: tuple[IbCa, ...]
    errors: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """True when ibstat reported an error instead of finishing."""
        return bool(self.errors)

    def ca(self, name: str) -> IbCa:
        """The CA of this name, or KeyError."""
        for ca in self.cas:
            if ca.name == name:
                return ca
        raise KeyError(name)

    def down_ports(self) -> tuple[tuple[str, int], ...]:
        """(CA, port) of every port that is not Active/LinkUp."""
        return tuple((ca.name, p.number) for ca in self.cas for p in ca.ports if not p.active)


def parse_ibstat(text: str) -> IbstatReport:
    """Parse `ibstat` output.

    >>> report = parse_ibstat("CA 'mlx5_0'\\n\\tPort 1:\\n\\t\\tState: Active\\n")
    >>> report.cas[0].ports[0].state
    'Active'
    """
    lines = require_lines(TOOL, text)
    blocks: list[tuple[str, dict[str, str], list[tuple[int, dict[str, str]]]]] = []
    errors: list[str] = []
    port: dict[str, str] | None = None
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if ca := _CA.match(line):
            blocks.append((ca.group("name"), {}, []))
            port = None
        elif _ERROR.match(raw):
            errors.append(line)
        elif not blocks:
            raise ParseError(TOOL, lineno, raw, "expected \"CA '<name>'\"")
        elif found := _PORT.match(line):
            port = {}
            blocks[-1][2].append((int(found.group("port")), port))
        elif found := _FIELD.match(line):
            target = port if port is not None else blocks[-1][1]
            target[found.group("key")] = found.group("value").strip()
        else:
            raise ParseError(TOOL, lineno, raw, "expected 'Key: value'")
    if not blocks and not errors:
        raise ParseError(TOOL, *first_content(lines), "no CA")
    return IbstatReport(
        cas=tuple(_ca(name, fields, ports) for name, fields, ports in blocks),
        errors=tuple(errors),
    )


def _ca(name: str, fields: dict[str, str], ports: list[tuple[int, dict[str, str]]]) -> IbCa:
    return IbCa(
        name=name,
        ca_type=fields.get("CA type"),
        number_of_ports=leading_int(fields.get("Number of ports")),
        firmware_version=fields.get("Firmware version"),
        hardware_version=fields.get("Hardware version"),
        node_guid=fields.get("Node GUID"),
        system_image_guid=fields.get("System image GUID"),
        ports=tuple(
            IbPort(
                number=number,
                state=port.get("State"),
                physical_state=port.get("Physical state"),
                rate=leading_float(port.get("Rate")),
                base_lid=leading_int(port.get("Base lid")),
                sm_lid=leading_int(port.get("SM lid")),
                lmc=leading_int(port.get("LMC")),
                capability_mask=port.get("Capability mask"),
                port_guid=port.get("Port GUID"),
                link_layer=port.get("Link layer"),
            )
            for number, port in ports
        ),
        fields=dict(fields),
    )

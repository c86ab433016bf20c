"""`ibv_devinfo` (and `-v`): per HCA its transport, firmware, GUIDs, vendor ids and ports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.parsers._text import leading_int, require_lines
from bringup.parsers.errors import ParseError

TOOL = "ibv_devinfo"

_HCA = re.compile(r"^hca_id:\s+(?P<hca>\S+)$")
_PORT = re.compile(r"^port:\s+(?P<port>\d+)$")
_FIELD = re.compile(r"^(?P<key>[^:]+?):\s*(?P<value>.*)$")
_FLAG = re.compile(r"^[A-Z0-9_ ]+$")  # -v lists capability flags below their field
_CODED = re.compile(r"^(?P<name>\S+) \((?P<code>\d+)\)$")
_NO_DEVICES = "No IB devices found"


@dataclass(frozen=True, slots=True)
class IbvPort:
    """One port of an HCA."""

    port: int
    state: str | None  # "PORT_ACTIVE", "PORT_DOWN", ...
    state_code: int | None
    max_mtu: int | None
    active_mtu: int | None
    sm_lid: int | None
    port_lid: int | None
    link_layer: str | None
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True when the port state is PORT_ACTIVE."""
        return self.state == "PORT_ACTIVE"


@dataclass(frozen=True, slots=True)
class IbvDevice:
    """One HCA block."""

    hca_id: str
    transport: str | None
    fw_ver: str | None
    node_guid: str | None
    sys_image_guid: str | None
    vendor_id: str | None
    vendor_part_id: int | None  # 4129 = ConnectX-7, 4123/4125 = ConnectX-6 (Dx), 4119 = CX-5
    hw_ver: str | None
    board_id: str | None
    phys_port_cnt: int | None
    ports: tuple[IbvPort, ...]
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """False when fewer port blocks were printed than phys_port_cnt says (an excerpt)."""
        return self.phys_port_cnt is None or len(self.ports) == self.phys_port_cnt


def parse_ibv_devinfo(text: str) -> tuple[IbvDevice, ...]:
    """Parse `ibv_devinfo`; "No IB devices found" yields an empty tuple."""
    lines = require_lines(TOOL, text)
    blocks: list[tuple[str, dict[str, str], list[tuple[int, dict[str, str]]]]] = []
    target: dict[str, str] | None = None
    last_key: str | None = None
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line == _NO_DEVICES:
            continue
        if hca := _HCA.match(line):
            blocks.append((hca.group("hca"), {}, []))
            target, last_key = blocks[-1][1], None
        elif target is None:
            raise ParseError(TOOL, lineno, raw, "expected 'hca_id: <name>'")
        elif port := _PORT.match(line):
            target, last_key = {}, None
            blocks[-1][2].append((int(port.group("port")), target))
        elif found := _FIELD.match(line):
            last_key = found.group("key")
            target[last_key] = found.group("value").strip()
        elif last_key is not None and _FLAG.match(line):
            target[last_key] = f"{target[last_key]} {line}".strip()
        else:
            raise ParseError(TOOL, lineno, raw, "expected 'key: value'")
    return tuple(_device(hca, fields, ports) for hca, fields, ports in blocks)


def _coded(value: str | None) -> tuple[str | None, int | None]:
    """('PORT_ACTIVE', 4) from 'PORT_ACTIVE (4)'; (value, None) when not in that form."""
    found = _CODED.match(value or "")
    return (found.group("name"), int(found.group("code"))) if found else (value, None)


def _device(hca: str, fields: dict[str, str], ports: list[tuple[int, dict[str, str]]]) -> IbvDevice:
    return IbvDevice(
        hca_id=hca,
        transport=fields.get("transport"),
        fw_ver=fields.get("fw_ver"),
        node_guid=fields.get("node_guid"),
        sys_image_guid=fields.get("sys_image_guid"),
        vendor_id=fields.get("vendor_id"),
        vendor_part_id=leading_int(fields.get("vendor_part_id")),
        hw_ver=fields.get("hw_ver"),
        board_id=fields.get("board_id"),
        phys_port_cnt=leading_int(fields.get("phys_port_cnt")),
        ports=tuple(
            IbvPort(
                port=number,
                state=_coded(port.get("state"))[0],
                state_code=_coded(port.get("state"))[1],
                max_mtu=leading_int(port.get("max_mtu")),
                active_mtu=leading_int(port.get("active_mtu")),
                sm_lid=leading_int(port.get("sm_lid")),
                port_lid=leading_int(port.get("port_lid")),
                link_layer=port.get("link_layer"),
                fields=dict(port),
            )
            for number, port in ports
        ),
        fields=dict(fields),
    )

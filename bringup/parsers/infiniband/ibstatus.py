"""`ibstatus`: one block per (device, port) with GID, LIDs, state, physical state and rate."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bringup.parsers._text import leading_float, require_lines
from bringup.parsers.errors import ParseError

TOOL = "ibstatus"

_BLOCK = re.compile(r"^Infiniband device '(?P<device>[^']+)' port (?P<port>\d+) status:$")
_FIELD = re.compile(r"^(?P<key>[a-z_ ]+?):\s+(?P<value>.*)$")
_CODED = re.compile(r"^(?P<code>\d+): (?P<name>\S+)$")
_RATE = re.compile(r"^(?P<rate>\d+(?:\.\d+)?) Gb/sec(?: \((?P<width>[^)]*)\))?$")


@dataclass(frozen=True, slots=True)
class IbstatusPort:
    """One port's status block."""

    device: str
    port: int
    default_gid: str | None
    base_lid: int | None
    sm_lid: int | None
    state: str | None  # "ACTIVE", "DOWN", "INIT", "ARMED"
    state_code: int | None  # 4 for ACTIVE
    physical_state: str | None  # "LinkUp", "Disabled", "Polling"
    rate_gbps: float | None
    rate_width: str | None  # "4X HDR"
    link_layer: str | None

    @property
    def active(self) -> bool:
        """True when the port is ACTIVE with its physical link up."""
        return self.state == "ACTIVE" and self.physical_state == "LinkUp"


def parse_ibstatus(text: str) -> tuple[IbstatusPort, ...]:
    """Parse `ibstatus` output into one IbstatusPort per block."""
    blocks: list[tuple[re.Match[str], dict[str, str]]] = []
    for lineno, raw in enumerate(require_lines(TOOL, text), start=1):
        line = raw.strip()
        if not line:
            continue
        if header := _BLOCK.match(line):
            blocks.append((header, {}))
        elif blocks and (found := _FIELD.match(line)):
            blocks[-1][1][found.group("key")] = found.group("value").strip()
        else:
            expected = "'key: value'" if blocks else "\"Infiniband device '<name>' port N status:\""
            raise ParseError(TOOL, lineno, raw, f"expected {expected}")
    return tuple(_port(header, fields) for header, fields in blocks)


def _lid(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        return None


def _port(header: re.Match[str], fields: dict[str, str]) -> IbstatusPort:
    state = _CODED.match(fields.get("state", ""))
    phys = _CODED.match(fields.get("phys state", ""))
    rate = _RATE.match(fields.get("rate", ""))
    return IbstatusPort(
        device=header.group("device"),
        port=int(header.group("port")),
        default_gid=fields.get("default gid"),
        base_lid=_lid(fields.get("base lid")),
        sm_lid=_lid(fields.get("sm lid")),
        state=state.group("name") if state else fields.get("state"),
        state_code=int(state.group("code")) if state else None,
        physical_state=phys.group("name") if phys else fields.get("phys state"),
        rate_gbps=leading_float(rate.group("rate")) if rate else None,
        rate_width=rate.group("width") if rate else None,
        link_layer=fields.get("link_layer"),
    )

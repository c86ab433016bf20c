"""`dcgmi nvlink --link-status`: the state of every NVLink of every GPU and NVSwitch."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError

TOOL = "dcgmi nvlink --link-status"

LINK_STATES = {"U": "Up", "D": "Down", "X": "Disabled", "_": "Not Supported"}

_ENTITY = re.compile(r"^(?P<kind>gpuId|physicalId) (?P<id>\d+):$")
_BANNER = re.compile(r"^(\+-+\+|\|\s*NvLink Link Status\s*\|)$")


@dataclass(frozen=True, slots=True)
class NvlinkLinkStatus:
    """Link states per GPU id and per NVSwitch physical id ("Up", "Down", ...)."""

    gpus: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    switches: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    def down_links(self) -> dict[int, tuple[int, ...]]:
        """GPU id -> the links that are Down, for GPUs with any."""
        down = {
            gpu: tuple(i for i, state in enumerate(states) if state == "Down")
            for gpu, states in self.gpus.items()
        }
        return {gpu: links for gpu, links in down.items() if links}


def parse_dcgmi_nvlink_status(text: str) -> NvlinkLinkStatus:
    """Parse `dcgmi nvlink --link-status` (a leading echo of the command is skipped)."""
    lines = require_lines(TOOL, text)
    section: str | None = None
    entity: int | None = None
    gpus: dict[int, tuple[str, ...]] = {}
    switches: dict[int, tuple[str, ...]] = {}
    seen_banner = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line == "No NvSwitches found." or line.startswith("Key:"):
            continue
        if _BANNER.match(line):
            seen_banner = True
        elif line in ("GPUs:", "NvSwitches:"):
            section, entity = line, None
        elif found := _ENTITY.match(line):
            if section is None:
                raise ParseError(TOOL, lineno, raw, "entity outside 'GPUs:' / 'NvSwitches:'")
            entity = int(found.group("id"))
        elif entity is not None and all(token in LINK_STATES for token in line.split()):
            states = tuple(LINK_STATES[token] for token in line.split())
            (gpus if section == "GPUs:" else switches)[entity] = states
            entity = None
        elif seen_banner or section is not None:
            raise ParseError(TOOL, lineno, raw, "expected link states like 'U U D X _'")
    if not seen_banner and not gpus:
        raise ParseError(TOOL, *first_content(lines), "no 'NvLink Link Status' output")
    return NvlinkLinkStatus(gpus=gpus, switches=switches)

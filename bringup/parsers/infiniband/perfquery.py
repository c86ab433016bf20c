"""`perfquery` (-x extended counters, plain error counters, -E receive-error details)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.parsers._text import require_lines
from bringup.parsers.errors import ParseError

TOOL = "perfquery"

_HEADER = re.compile(
    r"^# (?P<kind>.+?) counters: Lid (?P<lid>\d+) port (?P<port>\d+|ALL)"
    r"(?: \(CapMask: (?P<capmask>\S+?)(?: CapMask2: (?P<capmask2>\S+?))?\))?$"
)
_COUNTER = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9]*):\.*(?P<value>\S+)$")

# Counters that count errors (PortXmitWait counts congestion, the data counters traffic).
ERROR_COUNTERS = frozenset(
    {
        "SymbolErrorCounter",
        "LinkErrorRecoveryCounter",
        "LinkDownedCounter",
        "PortRcvErrors",
        "PortRcvRemotePhysicalErrors",
        "PortRcvSwitchRelayErrors",
        "PortXmitDiscards",
        "PortXmitConstraintErrors",
        "PortRcvConstraintErrors",
        "LocalLinkIntegrityErrors",
        "ExcessiveBufferOverrunErrors",
        "VL15Dropped",
        "PortLocalPhysicalErrors",
        "PortMalformedPktErrors",
        "PortBufferOverrunErrors",
        "PortDLIDMappingErrors",
        "PortVLMappingErrors",
        "PortLoopingErrors",
    }
)


@dataclass(frozen=True, slots=True)
class PerfqueryBlock:
    """The counters of one port, under one '# ... counters: Lid L port P' header."""

    kind: str  # "Port extended", "Port", "PortRcvErrorDetails"
    lid: int
    port: int | None  # None for "port ALL"
    cap_mask: str | None
    counters: Mapping[str, int] = field(default_factory=dict)

    def errors(self) -> dict[str, int]:
        """The error counters that are not zero."""
        return {k: v for k, v in self.counters.items() if k in ERROR_COUNTERS and v}


def parse_perfquery(text: str) -> tuple[PerfqueryBlock, ...]:
    """Parse perfquery output: one PerfqueryBlock per counters header.

    >>> block, = parse_perfquery("# Port counters: Lid 1 port 1\\nSymbolErrorCounter:....7\\n")
    >>> block.errors()
    {'SymbolErrorCounter': 7}
    """
    blocks: list[tuple[re.Match[str], dict[str, int]]] = []
    for lineno, raw in enumerate(require_lines(TOOL, text), start=1):
        line = raw.strip()
        if not line:
            continue
        if header := _HEADER.match(line):
            blocks.append((header, {}))
            continue
        counter = _COUNTER.match(line)
        if not blocks or counter is None:
            expected = "'Name:....value'" if blocks else "'# ... counters: Lid L port P'"
            raise ParseError(TOOL, lineno, raw, f"expected {expected}")
        try:
            blocks[-1][1][counter.group("name")] = int(counter.group("value"), 0)
        except ValueError as error:
            raise ParseError(TOOL, lineno, raw, "counter value is not a number") from error
    return tuple(
        PerfqueryBlock(
            kind=header.group("kind"),
            lid=int(header.group("lid")),
            port=None if header.group("port") == "ALL" else int(header.group("port")),
            cap_mask=header.group("capmask"),
            counters=counters,
        )
        for header, counters in blocks
    )

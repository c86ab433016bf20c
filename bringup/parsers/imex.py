"""nvidia-imex: the daemon log, and `nvidia-imex-ctl -N` (node status and connectivity).

The daemon log shares Fabric Manager's format (see _daemon_log). `nvidia-imex-ctl -N` had no
real capture here; its parser follows the output shown in NVIDIA's IMEX documentation and in
operators' guides: a "Connectivity Table Legend:", a timestamp, "Nodes:" with one
"Node #i - <address> - <STATUS> [- Version: v]" line each, a "Nodes From\\To" matrix of legend
codes and "Domain State: UP|DOWN|DEGRADED".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.parsers._daemon_log import DaemonLog, LogEntry, parse_daemon_log
from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError

TOOL = "nvidia-imex log"
CTL_TOOL = "nvidia-imex-ctl -N"

_VERSION = re.compile(r"^IMEX version (?P<version>\S+) is running")
_CONFIG = re.compile(r"^(?P<key>[A-Za-z][\w /().-]*?) = ?(?P<value>.*)$")
_LEGEND = re.compile(r"^(?P<code>!?[A-Z]!?) - (?P<meaning>.+)$")
_WHEN = re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?$")
_NODE = re.compile(
    r"^Node #(?P<index>\d+)\s+-\s+(?P<address>\S+)\s+-\s+(?P<status>[A-Z_]+)"
    r"(?:\s+-\s+Version:\s+(?P<version>\S+))?$"
)
_MATRIX_HEADER = re.compile(r"^Nodes From\\To\s+(?P<columns>\d+(?:\s+\d+)*)$")
_DOMAIN = re.compile(r"^Domain State:\s+(?P<state>\S+)$")


@dataclass(frozen=True, slots=True)
class ImexLog:
    """An nvidia-imex daemon log."""

    log: DaemonLog
    version: str | None
    config: Mapping[str, str] = field(default_factory=dict)

    @property
    def problems(self) -> tuple[LogEntry, ...]:
        """The WARNING, ERROR and FATAL entries."""
        return self.log.with_severity("WARNING", "WARN", "ERROR", "FATAL")


@dataclass(frozen=True, slots=True)
class ImexNode:
    """One node of the IMEX domain as this node sees it."""

    index: int
    address: str
    status: str  # "READY", "UNAVAILABLE", ...
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ImexNodeStatus:
    """The output of `nvidia-imex-ctl -N`."""

    nodes: tuple[ImexNode, ...]
    connectivity: Mapping[tuple[int, int], str]  # (from, to) -> legend code, "C" = connected
    domain_state: str | None
    timestamp: str | None = None
    legend: Mapping[str, str] = field(default_factory=dict)

    def unconnected(self) -> tuple[tuple[int, int, str], ...]:
        """(from, to, code) of every pair that is not Connected."""
        return tuple(
            (a, b, code) for (a, b), code in sorted(self.connectivity.items()) if code != "C"
        )

    @property
    def healthy(self) -> bool:
        """True when the domain is UP, every node READY and every pair connected."""
        ready = all(node.status == "READY" for node in self.nodes)
        return self.domain_state == "UP" and ready and not self.unconnected()


def parse_imex_log(text: str) -> ImexLog:
    """Parse an nvidia-imex daemon log (file or stderr)."""
    log = parse_daemon_log(TOOL, require_lines(TOOL, text))
    version: str | None = None
    config: dict[str, str] = {}
    for entry in log.entries:
        if found := _VERSION.match(entry.message):
            version = found.group("version")
        elif version is not None and entry.timestamp and (found := _CONFIG.match(entry.message)):
            config[found.group("key")] = found.group("value").strip()
    return ImexLog(log=log, version=version, config=config)


def parse_imex_node_status(text: str) -> ImexNodeStatus:
    """Parse `nvidia-imex-ctl -N`."""
    lines = require_lines(CTL_TOOL, text)
    legend: dict[str, str] = {}
    nodes: list[ImexNode] = []
    columns: list[int] | None = None
    connectivity: dict[tuple[int, int], str] = {}
    timestamp: str | None = None
    domain: str | None = None
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line == "Nodes:" or line == "Connectivity Table Legend:":
            continue
        if found := _LEGEND.match(line):
            legend[found.group("code")] = found.group("meaning")
        elif _WHEN.match(line):
            timestamp = line
        elif found := _NODE.match(line):
            index, address, status, version = found.group("index", "address", "status", "version")
            nodes.append(ImexNode(int(index), address, status, version))
        elif found := _MATRIX_HEADER.match(line):
            columns = [int(column) for column in found.group("columns").split()]
        elif found := _DOMAIN.match(line):
            domain = found.group("state")
        elif columns is not None and line.split()[0].isdigit():
            cells = line.split()
            if len(cells) != len(columns) + 1:
                raise ParseError(CTL_TOOL, lineno, raw, f"expected {len(columns)} codes")
            for column, code in zip(columns, cells[1:], strict=True):
                connectivity[(int(cells[0]), column)] = code
        elif nodes or columns is not None:
            raise ParseError(CTL_TOOL, lineno, raw, "unexpected line in the node status")
    if not nodes:
        lineno, line = first_content(lines)
        raise ParseError(CTL_TOOL, lineno, line, "no 'Node #i - address - STATUS' line")
    return ImexNodeStatus(
        nodes=tuple(nodes),
        connectivity=connectivity,
        domain_state=domain,
        timestamp=timestamp,
        legend=legend,
    )

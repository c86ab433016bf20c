"""A node as the checks see it: its expectations, its collected outputs, parsed once.

Parsing happens on first use and is cached, so a check reads `node.smi` without caring
whether another check parsed it already. A tool that failed or printed something unreadable
becomes a `NodeProblem` naming the section: the check that needs it turns that into a finding
on the node, with the raw text as evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from bringup.parsers import ParseError
from bringup.parsers.imex import ImexNodeStatus, parse_imex_node_status
from bringup.parsers.infiniband import IbstatReport, PerfqueryBlock, parse_ibstat, parse_perfquery
from bringup.parsers.nvidia_smi import (
    NvidiaSmiReport,
    NvlinkGpu,
    parse_nvlink_status,
    parse_query_xml,
)
from bringup.parsers.xid import XidEvent, parse_xid_log
from bringup.plan import NodeExpectation
from bringup.plan.expectation import NicExpectation
from bringup.validation.collect import NodeOutputs, ipoib_mode_section, perfquery_section
from bringup.validation.report import Finding

EVIDENCE_CHARS = 2000
_LOST_GPU = re.compile(
    r"Unable to determine the device handle for GPU\s*"
    r"(?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}(?:\.[0-7])?)"
)


class NodeProblem(Exception):
    """A section the checks need is missing, failed or unreadable."""

    def __init__(self, section: str, reason: str, evidence: str = "") -> None:
        super().__init__(f"{section}: {reason}")
        self.section = section
        self.reason = reason
        self.evidence = evidence[:EVIDENCE_CHARS]


def short_bus(bus_id: str) -> str:
    """'0000:18:00' from '00000000:18:00.0' or '0000:18:00' (the form NVRM prints)."""
    parts = bus_id.lower().split(":")
    if len(parts) < 3:
        return bus_id.lower()
    return f"{parts[-3][-4:]}:{parts[-2]}:{parts[-1].split('.')[0]}"


_Parsed = TypeVar("_Parsed")


@dataclass(frozen=True)
class Link:
    """One interface as `ip -j addr` shows it: flags, operational state, MTU, IPv4 addresses."""

    name: str
    flags: frozenset[str]
    operstate: str
    inet: tuple[str, ...]  # "address/prefix"
    mtu: int = 0  # 0: not shown

    @classmethod
    def from_json(cls, entry: Mapping[str, object]) -> Link:
        """The interface from one element of `ip -j addr`'s list."""
        flags = entry.get("flags")
        addresses = entry.get("addr_info")
        inet = tuple(
            f"{a.get('local')}/{a.get('prefixlen')}"
            for a in (addresses if isinstance(addresses, list) else [])
            if isinstance(a, dict) and a.get("family") == "inet"
        )
        mtu = entry.get("mtu")
        return cls(
            str(entry.get("ifname")),
            frozenset(str(f) for f in flags) if isinstance(flags, list) else frozenset(),
            str(entry.get("operstate", "UNKNOWN")),
            inet,
            mtu if isinstance(mtu, int) else 0,
        )


@dataclass(frozen=True)
class Rule:
    """One policy rule as `ip -j rule` shows it: priority, source, table.

    >>> Rule.from_json({"priority": 1001, "src": "10.128.0.1", "table": "1001"}).text
    '1001: from 10.128.0.1 lookup 1001'
    """

    priority: int
    source: str
    """``all``, an address, or a prefix (address/length)."""
    table: str

    @classmethod
    def from_json(cls, entry: Mapping[str, object]) -> Rule:
        """The rule from one element of `ip -j rule`'s list."""
        priority, length = entry.get("priority"), entry.get("srclen")
        source = str(entry.get("src", "all"))
        if isinstance(length, int) and length != 32:
            source = f"{source}/{length}"
        return cls(
            priority if isinstance(priority, int) else -1, source, str(entry.get("table", ""))
        )

    @property
    def text(self) -> str:
        """The rule as `ip rule` prints it."""
        return f"{self.priority}: from {self.source} lookup {self.table}"


@dataclass(frozen=True)
class Route:
    """One route as `ip -j route show table all` shows it.

    >>> entry = {"dst": "10.128.0.0/26", "dev": "ibp24s0", "prefsrc": "10.128.0.1", "table": "1001"}
    >>> Route.from_json(entry).text
    '10.128.0.0/26 dev ibp24s0 src 10.128.0.1'
    """

    table: str
    """The table's number or name; ``main`` for a route ip prints without one."""
    destination: str
    """``default``, or a prefix (a host route with its /32)."""
    gateway: str
    device: str
    source: str
    """The preferred source address ('' for none)."""

    @classmethod
    def from_json(cls, entry: Mapping[str, object]) -> Route:
        """The route from one element of `ip -j route`'s list."""
        destination = str(entry.get("dst", ""))
        if destination != "default" and "/" not in destination:
            destination += "/32"
        return cls(
            str(entry.get("table", "main")),
            destination,
            str(entry.get("gateway", "")),
            str(entry.get("dev", "")),
            str(entry.get("prefsrc", "")),
        )

    @property
    def text(self) -> str:
        """The route as `ip route` prints it (its table left out)."""
        via = f" via {self.gateway}" if self.gateway else ""
        device = f" dev {self.device}" if self.device else ""
        source = f" src {self.source}" if self.source else ""
        return f"{self.destination}{via}{device}{source}"


@dataclass
class Node:
    """One node of the run: its expectation, outputs, burn-in folder, the DCGM level its
    burn-in ran at, and, when admission revalidates it, when it was repaired."""

    expected: NodeExpectation
    outputs: NodeOutputs
    burn_in_dir: Path | None = None
    diag_level: int | None = None
    repaired_at: datetime | None = None
    """The node's latest repair mark (timezone-aware): what the driver logged before it does not
    count against the node (bringup.validation.repaired). None outside a revalidation."""

    @property
    def name(self) -> str:
        return self.expected.name

    def finding(
        self,
        component: str,
        check: str,
        observed: object,
        expected: object,
        evidence: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> Finding:
        """A finding on a component of this node (`component` without the host part)."""
        kind, _, rest = component.partition(":")
        full = f"{kind}:{self.name}{rest}" if rest.startswith("/") else component
        if component == "node":
            full = f"node:{self.name}"
        return Finding(
            full,
            check,
            str(observed),
            str(expected),
            evidence[:EVIDENCE_CHARS],
            dict(attributes or {}),
        )

    def problem(self, check: str, problem: NodeProblem) -> Finding:
        """A finding on the whole node: a check could not read what it needs."""
        return self.finding(
            "node", check, problem.reason, f"readable {problem.section} output", problem.evidence
        )

    def section(self, name: str, *, ok_codes: tuple[int, ...] = (0,)) -> str:
        """A section's text, or NodeProblem when it was not collected or its tool failed."""
        if not self.outputs.has(name):
            raise NodeProblem(name, "not collected")
        rc, text = self.outputs.rc(name), self.outputs.text(name)
        if rc not in ok_codes:
            first = next((line for line in text.splitlines() if line.strip()), "")
            raise NodeProblem(name, f"exit status {rc}: {first}".rstrip(": "), text)
        return text

    def _parse(self, name: str, text: str, parse: Callable[[str], _Parsed]) -> _Parsed:
        try:
            return parse(text)
        except ParseError as exc:
            raise NodeProblem(name, f"unreadable: {exc}", text) from None

    # --- GPUs ------------------------------------------------------------------------------
    @cached_property
    def smi_text(self) -> str:
        # nvidia-smi exits 15 when a GPU is lost and still reports the others
        return self.section("nvidia-smi-xml", ok_codes=(0, 15))

    @cached_property
    def smi(self) -> NvidiaSmiReport:
        text = self.smi_text
        start = text.find("<?xml")
        if start < 0:
            raise NodeProblem("nvidia-smi-xml", "no XML report", text)
        return self._parse("nvidia-smi-xml", text[start:], parse_query_xml)

    @cached_property
    def lost_gpus(self) -> tuple[str, ...]:
        """Bus ids of GPUs nvidia-smi names as lost ('Unable to determine the device handle')."""
        return tuple(m.group("bus") for m in _LOST_GPU.finditer(self.smi_text))

    @cached_property
    def gpu_index_by_bus(self) -> dict[str, int]:
        """NVML index of every GPU, lost ones included, by short bus id (NVML orders by bus)."""
        buses = {short_bus(g.bus_id) for g in self.smi.gpus if g.bus_id}
        buses |= {short_bus(b) for b in self.lost_gpus}
        return {bus: i for i, bus in enumerate(sorted(buses))}

    @cached_property
    def nvlink(self) -> tuple[NvlinkGpu, ...]:
        text = self.section("nvidia-smi-nvlink", ok_codes=(0, 15))
        # a lost GPU's line stands between the others' blocks; gpu.count names that GPU
        text = "".join(line for line in text.splitlines(True) if not _LOST_GPU.search(line))
        return self._parse("nvidia-smi-nvlink", text, parse_nvlink_status)

    @cached_property
    def xids(self) -> tuple[XidEvent, ...]:
        text = self.section("xid")
        if not text.strip():
            return ()
        return self._parse("xid", text, parse_xid_log)

    @cached_property
    def clock(self) -> tuple[float, int]:
        """(uptime in seconds, epoch seconds) on the node when the outputs were collected."""
        lines = self.section("clock").split()
        try:
            return float(lines[0]), int(lines[2])
        except (IndexError, ValueError):
            raise NodeProblem("clock", "unreadable", self.outputs.text("clock")) from None

    # --- NICs ------------------------------------------------------------------------------
    @cached_property
    def ibstat(self) -> IbstatReport:
        return self._parse("ibstat", self.section("ibstat"), parse_ibstat)

    def perfquery(self, nic: NicExpectation) -> dict[str, int]:
        """The port's counters (extended counters where printed)."""
        name = perfquery_section(nic)
        blocks: tuple[PerfqueryBlock, ...] = self._parse(name, self.section(name), parse_perfquery)
        counters: dict[str, int] = {}
        for block in blocks:
            counters.update(block.counters)
        return counters

    def _json_list(self, name: str) -> list[Mapping[str, object]]:
        """The objects of a section that holds one JSON list (what `ip -j` prints)."""
        text = self.section(name)
        try:
            data = json.loads(text.strip() or "[]")  # some versions print nothing for none
        except json.JSONDecodeError as exc:
            raise NodeProblem(name, f"unreadable: {exc}", text) from None
        if not isinstance(data, list):
            raise NodeProblem(name, "unreadable: expected a JSON list", text)
        return [entry for entry in data if isinstance(entry, dict)]

    @cached_property
    def links(self) -> dict[str, Link]:
        """`ip -j addr` by interface name."""
        links = (Link.from_json(entry) for entry in self._json_list("ip-addr"))
        return {link.name: link for link in links}

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        """`ip -j -4 rule`, in priority order."""
        return tuple(Rule.from_json(entry) for entry in self._json_list("ip-rule"))

    @cached_property
    def routes(self) -> tuple[Route, ...]:
        """`ip -j -4 route show table all`: every table's routes."""
        return tuple(Route.from_json(entry) for entry in self._json_list("ip-route"))

    def ipoib_mode(self, nic: NicExpectation) -> str:
        """The mode an IPoIB netdev runs in (datagram, connected), or NodeProblem where it
        could not be read."""
        return self.section(ipoib_mode_section(nic)).strip()

    # --- software, storage -----------------------------------------------------------------
    @cached_property
    def packages(self) -> dict[str, tuple[str, str]]:
        """Installed packages asked about: name -> (version, status abbreviation)."""
        text = self.section("dpkg", ok_codes=(0, 1))  # 1: some package is not installed
        found: dict[str, tuple[str, str]] = {}
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                found[parts[0].split(":")[0]] = (parts[1], parts[2].strip())
        return found

    @cached_property
    def holds(self) -> frozenset[str]:
        """Packages on hold: dpkg's selection 'h' (what `apt-mark showhold` lists)."""
        return frozenset(name for name, (_, status) in self.packages.items() if status[:1] == "h")

    @cached_property
    def imex_status(self) -> ImexNodeStatus:
        return self._parse("imex-ctl", self.section("imex-ctl"), parse_imex_node_status)

    @cached_property
    def _mount_table(self) -> dict[str, tuple[str, str, str]]:
        """Mount point -> (source, filesystem type, options) of what is mounted there last."""
        table: dict[str, tuple[str, str, str]] = {}
        for line in self.section("mounts").splitlines():
            fields = line.split()
            if len(fields) >= 3:
                options = fields[3] if len(fields) > 3 else ""
                table[fields[1].replace("\\040", " ")] = (fields[0], fields[2], options)
        return table

    @cached_property
    def mounts(self) -> dict[str, tuple[str, str]]:
        """Mount point -> (source, filesystem type)."""
        return {point: (source, kind) for point, (source, kind, _) in self._mount_table.items()}

    @cached_property
    def mount_options(self) -> dict[str, str]:
        """Mount point -> its options, as the kernel shows them."""
        return {point: options for point, (_, _, options) in self._mount_table.items()}

    # --- burn-in ---------------------------------------------------------------------------
    def burn_in_file(self, name: str) -> Path:
        """A burn-in output of this node, or NodeProblem when there is none."""
        if self.burn_in_dir is None:
            raise NodeProblem(name, "no burn-in folder given (--bringup-burn-in)")
        path = self.burn_in_dir / self.name / name
        if not path.is_file():
            raise NodeProblem(name, f"missing: {path}")
        return path

    def burn_in_text(self, name: str) -> str:
        return self.burn_in_file(name).read_text(encoding="utf-8", errors="replace")

    @cached_property
    def manifest(self) -> Mapping[str, object]:
        text = self.burn_in_text("manifest.json")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NodeProblem("manifest.json", f"unreadable: {exc}", text) from None
        return data if isinstance(data, dict) else {}

"""NVLink checks: links per GPU, their speed, NVLink errors and the daemons the SKU needs.

Components: ``nvlink:<host>/gpu<i>/link<n>`` for a link, ``service:<host>/<unit>`` for a daemon.
The plan says how many links each GPU has and at what speed (links_per_gpu, link_speed_mbps),
and which daemons the SKU needs (fabric manager on HGX NVSwitch systems, NVLSM on B200/B300,
IMEX on NVL72 trays). IMEX membership compares the daemon's node list with the planned peers;
a peer's own state is that peer's check, so a dead neighbour does not fail this node.
"""

from __future__ import annotations

import re

from bringup.admit.findings import Finding
from bringup.validation.collect import service_section
from bringup.validation.judge import has_nvlink, judge
from bringup.validation.judges.gpu import recent_xids
from bringup.validation.node import Node, short_bus

NVLINK_ERROR_XIDS = {74}
_LINK_IN_MESSAGE = re.compile(r"\blink (\d+)\b")


@judge("nvlink.link_state", when=has_nvlink)
def link_state(node: Node) -> list[Finding]:
    """Every planned link of every GPU active."""
    want = int(node.expected.nvlink.get("links_per_gpu") or 0)
    found = []
    for gpu in node.nvlink:
        by_number = {link.link: link for link in gpu.links}
        for n in range(want):
            link = by_number.get(n)
            state = "absent" if link is None else link.state
            if link is None or link.speed_gbps is None:
                found.append(
                    node.finding(
                        f"nvlink:/gpu{gpu.index}/link{n}",
                        "nvlink.link_state",
                        state,
                        "active",
                        attributes={"uuid": gpu.uuid},
                    )
                )
    return found


@judge("nvlink.speed", when=has_nvlink)
def speed(node: Node) -> list[Finding]:
    """Active links at the planned speed (MB/s, as the plan gives it)."""
    want = float(node.expected.nvlink.get("link_speed_mbps") or 0)
    found = []
    for gpu in node.nvlink:
        for link in gpu.links:
            if link.speed_gbps is None or abs(link.speed_gbps * 1000 - want) <= 1:
                continue
            found.append(
                node.finding(
                    f"nvlink:/gpu{gpu.index}/link{link.link}",
                    "nvlink.speed",
                    f"{link.speed_gbps * 1000:.0f} MB/s",
                    f"{want:.0f} MB/s",
                )
            )
    return found


@judge("nvlink.errors", when=has_nvlink)
def errors(node: Node) -> list[Finding]:
    """NVLink errors the driver reported (Xid 74 names the GPU and the link) within the window."""
    found = []
    for event in recent_xids(node, NVLINK_ERROR_XIDS):
        index = node.gpu_index_by_bus.get(short_bus(event.pci_address))
        link = _LINK_IN_MESSAGE.search(event.message)
        component = f"nvlink:/gpu{index}/link{link.group(1) if link else '?'}"
        found.append(
            node.finding(
                component,
                "nvlink.errors",
                f"Xid {event.xid}",
                "no NVLink error",
                evidence=event.message,
            )
        )
    return found


def _service(node: Node, check: str, unit: str) -> list[Finding]:
    if unit not in node.expected.services:
        return []
    name = service_section(unit)
    rc = node.outputs.rc(name)
    if rc == 0:
        return []
    return [
        node.finding(
            f"service:/{unit}",
            check,
            f"not running (status exit {rc})",
            "running",
            evidence=node.outputs.text(name),
        )
    ]


@judge("nvlink.fabric_manager", when=has_nvlink)
def fabric_manager(node: Node) -> list[Finding]:
    """nvidia-fabricmanager running where the SKU needs it."""
    return _service(node, "nvlink.fabric_manager", "nvidia-fabricmanager")


@judge("nvlink.nvlsm", when=has_nvlink)
def nvlsm(node: Node) -> list[Finding]:
    """The NVLink subnet manager running where the SKU needs it."""
    return _service(node, "nvlink.nvlsm", "nvidia-nvlsm")


@judge("nvlink.imex", when=has_nvlink)
def imex(node: Node) -> list[Finding]:
    """nvidia-imex running, and this node READY in its domain."""
    found = _service(node, "nvlink.imex", "nvidia-imex")
    if found or "nvidia-imex" not in node.expected.services:
        return found
    own = node.expected.data.get("management_address")
    status = node.imex_status
    mine = [n for n in status.nodes if n.address == own]
    if mine and mine[0].status == "READY":
        return []
    observed = mine[0].status if mine else "not in the domain's node list"
    return [
        node.finding(
            "service:/nvidia-imex",
            "nvlink.imex",
            observed,
            "READY",
            evidence=node.outputs.text("imex-ctl"),
        )
    ]


@judge("nvlink.imex_domain", when=has_nvlink)
def imex_domain(node: Node) -> list[Finding]:
    """The IMEX domain's nodes are exactly the planned peers."""
    if not node.expected.software.get("imex"):
        return []
    planned = {str(p["address"]) for p in node.expected.nvlink.get("imex_peers") or ()}
    seen = {n.address for n in node.imex_status.nodes}
    if seen == planned:
        return []
    missing, extra = sorted(planned - seen), sorted(seen - planned)
    domain = node.expected.nvlink.get("domain")
    return [
        node.finding(
            "service:/nvidia-imex",
            "nvlink.imex_domain",
            f"missing {missing or '-'}, unexpected {extra or '-'}",
            f"the {len(planned)} trays of {domain}",
            evidence=node.outputs.text("imex-ctl"),
        )
    ]

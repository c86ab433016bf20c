"""NVLink checks: links per GPU, their speed, NVLink errors and the daemons the SKU needs.

Components: ``nvlink:<host>/gpu<i>/link<n>`` for a link, ``service:<host>/<unit>`` for a daemon.
The plan says how many links each GPU has and at what speed (links_per_gpu, link_speed_mbps),
and which daemons the SKU needs (fabric manager on HGX NVSwitch systems, NVLSM on B200/B300,
IMEX on NVL72 trays). IMEX membership compares the daemon's node list with the planned peers;
a peer's own state is that peer's check, so a dead neighbour does not fail this node. Where
NVIDIA's DRA driver runs IMEX (daemons of its own per ComputeDomain, in pods), the host's
nvidia-imex must be stopped: a running one holds the driver's IMEX session, so the driver's
daemons never start. The driver's domains are its own and not judged here.
"""

from __future__ import annotations

import re

from bringup.plan.expectation import IMEX_SERVICE, NvlinkExpectation
from bringup.validation.checks import Check
from bringup.validation.collect import service_section
from bringup.validation.judge import HAS_NVLINK, Judges
from bringup.validation.judges.gpu import recent_xids
from bringup.validation.node import Node, NodeProblem, short_bus
from bringup.validation.report import Finding

judges = Judges()


def planned(node: Node) -> NvlinkExpectation:
    """The node's planned NVLink domain (the NVLink checks apply only where there is one)."""
    if node.expected.nvlink is None:
        raise NodeProblem("plan", "no NVLink planned")
    return node.expected.nvlink


NVLINK_ERROR_XIDS = {74}
_LINK_IN_MESSAGE = re.compile(r"\blink (\d+)\b")


@judges.of(Check.NVLINK_LINK_STATE, when=HAS_NVLINK)
def link_state(node: Node) -> list[Finding]:
    """Every planned link of every GPU active."""
    want = planned(node).links_per_gpu
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
                        Check.NVLINK_LINK_STATE,
                        state,
                        "active",
                        attributes={"uuid": gpu.uuid},
                    )
                )
    return found


@judges.of(Check.NVLINK_SPEED, when=HAS_NVLINK)
def speed(node: Node) -> list[Finding]:
    """Active links at the planned speed (MB/s, as the plan gives it)."""
    want = float(planned(node).link_speed_mbps)
    found = []
    for gpu in node.nvlink:
        for link in gpu.links:
            if link.speed_gbps is None or abs(link.speed_gbps * 1000 - want) <= 1:
                continue
            found.append(
                node.finding(
                    f"nvlink:/gpu{gpu.index}/link{link.link}",
                    Check.NVLINK_SPEED,
                    f"{link.speed_gbps * 1000:.0f} MB/s",
                    f"{want:.0f} MB/s",
                )
            )
    return found


@judges.of(Check.NVLINK_ERRORS, when=HAS_NVLINK)
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
                Check.NVLINK_ERRORS,
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


@judges.of(Check.NVLINK_FABRIC_MANAGER, when=HAS_NVLINK)
def fabric_manager(node: Node) -> list[Finding]:
    """nvidia-fabricmanager running where the SKU needs it."""
    return _service(node, Check.NVLINK_FABRIC_MANAGER, "nvidia-fabricmanager")


@judges.of(Check.NVLINK_NVLSM, when=HAS_NVLINK)
def nvlsm(node: Node) -> list[Finding]:
    """The NVLink subnet manager running where the SKU needs it."""
    return _service(node, Check.NVLINK_NVLSM, "nvidia-nvlsm")


def _host_imex_stopped(node: Node) -> list[Finding]:
    """The host's nvidia-imex, which must not run beside the DRA driver's daemons, stopped."""
    name = service_section(IMEX_SERVICE)
    if not node.outputs.has(name):
        raise NodeProblem(name, "not collected")
    if node.outputs.rc(name) != 0:  # inactive, failed or not installed: none of them runs
        return []
    return [
        node.finding(
            f"service:/{IMEX_SERVICE}",
            Check.NVLINK_IMEX,
            "running on the host",
            "stopped: the DRA driver owns IMEX",
            evidence=node.outputs.text(name),
        )
    ]


@judges.of(Check.NVLINK_IMEX, when=HAS_NVLINK)
def imex(node: Node) -> list[Finding]:
    """nvidia-imex running, and this node READY in its domain; where the DRA driver runs IMEX,
    the host's nvidia-imex stopped."""
    if IMEX_SERVICE in node.expected.stopped_services:
        return _host_imex_stopped(node)
    found = _service(node, Check.NVLINK_IMEX, IMEX_SERVICE)
    if found or IMEX_SERVICE not in node.expected.services:
        return found
    own = node.expected.management_address
    status = node.imex_status
    mine = [n for n in status.nodes if n.address == own]
    if mine and mine[0].status == "READY":
        return []
    observed = mine[0].status if mine else "not in the domain's node list"
    return [
        node.finding(
            f"service:/{IMEX_SERVICE}",
            Check.NVLINK_IMEX,
            observed,
            "READY",
            evidence=node.outputs.text("imex-ctl"),
        )
    ]


@judges.of(Check.NVLINK_IMEX_DOMAIN, when=HAS_NVLINK)
def imex_domain(node: Node) -> list[Finding]:
    """The IMEX domain's nodes are exactly the planned peers (where the host runs IMEX)."""
    if not node.expected.host_imex:
        return []
    nvlink = planned(node)
    peers = {str(p.address) for p in nvlink.imex_peers}
    seen = {n.address for n in node.imex_status.nodes}
    if seen == peers:
        return []
    missing, extra = sorted(peers - seen), sorted(seen - peers)
    domain = nvlink.domain
    return [
        node.finding(
            f"service:/{IMEX_SERVICE}",
            Check.NVLINK_IMEX_DOMAIN,
            f"missing {missing or '-'}, unexpected {extra or '-'}",
            f"the {len(peers)} trays of {domain}",
            evidence=node.outputs.text("imex-ctl"),
        )
    ]

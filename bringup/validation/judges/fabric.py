"""NIC and cable checks: each planned rail/plane port present, ACTIVE at its rate, addressed,
with carrier, and its error counters under the limits.

Components are ``nic:<host>/rail<n>`` on the compute fabric (``storage1``, ``inband2`` on the
others), with device, netdev, cable, leaf and leaf_port as attributes, so a finding tells a
technician which cable to reseat. What the node can tell of the cable is its carrier: a cut or
unplugged cable, or a dead far-end port, leaves the netdev without LOWER_UP. That the far end is
the planned leaf port needs the switch's view (LLDP / ibnetdiscover), which admission does not
have from the node.

Counters are cumulative since the last reset; the suite compares them with the per-window
limits (flaps per 24 h, symbol errors per hour) as the gate for a freshly provisioned node,
whose counters were cleared with its burn-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bringup.admit.findings import Finding
from bringup.parsers.infiniband import IbPort
from bringup.validation.expected import nic_attributes, nic_label
from bringup.validation.judge import judge
from bringup.validation.node import Node, NodeProblem


def _finding(
    node: Node,
    nic: Mapping[str, Any],
    check: str,
    observed: object,
    expected: object,
    evidence: str = "",
) -> Finding:
    return node.finding(
        f"nic:/{nic_label(nic)}", check, observed, expected, evidence, nic_attributes(nic)
    )


def _netdev_only(node: Node, nic: Mapping[str, Any]) -> bool:
    """An Ethernet port on a node without the RDMA tools (a CPU node's plain NICs): judged by
    its netdev alone."""
    return nic.get("link_layer") != "infiniband" and node.outputs.rc("ibstat") == 127


def _port(node: Node, nic: Mapping[str, Any]) -> IbPort | None:
    for ca in node.ibstat.cas:
        if ca.name == nic["device"]:
            return next((p for p in ca.ports if p.number == int(nic.get("port") or 1)), None)
    return None


@judge("nic.present")
def present(node: Node) -> list[Finding]:
    """The HCA port (ibstat) and its netdev (ip) exist."""
    found = []
    for nic in node.expected.nics:
        missing = []
        if not _netdev_only(node, nic) and _port(node, nic) is None:
            missing.append(f"{nic['device']} port {nic.get('port') or 1}")
        if nic.get("netdev") not in node.links:
            missing.append(f"netdev {nic.get('netdev')}")
        if missing:
            found.append(
                _finding(node, nic, "nic.present", "absent: " + ", ".join(missing), "present")
            )
    return found


@judge("nic.state")
def state(node: Node) -> list[Finding]:
    """Port Active and LinkUp."""
    found = []
    for nic in node.expected.nics:
        if _netdev_only(node, nic):
            operstate = node.links.get(str(nic.get("netdev")), {}).get("operstate", "absent")
            if operstate != "UP":
                found.append(_finding(node, nic, "nic.state", f"operstate {operstate}", "UP"))
            continue
        port = _port(node, nic)
        if port is None:
            found.append(_finding(node, nic, "nic.state", "absent", "Active/LinkUp"))
        elif port.state != "Active" or port.physical_state != "LinkUp":
            found.append(
                _finding(
                    node, nic, "nic.state", f"{port.state}/{port.physical_state}", "Active/LinkUp"
                )
            )
    return found


@judge("nic.rate")
def rate(node: Node) -> list[Finding]:
    """Active ports at the planned rate (Gb/s)."""
    found = []
    for nic in node.expected.nics:
        if _netdev_only(node, nic):
            continue  # no RDMA tools: the netdev's speed is the driver's claim, not the link's
        port = _port(node, nic)
        want = float(nic["rate_gbps"])
        if port is not None and port.state == "Active" and port.rate != want:
            found.append(_finding(node, nic, "nic.rate", f"{port.rate:g} Gb/s", f"{want:g} Gb/s"))
    return found


@judge("nic.address")
def address(node: Node) -> list[Finding]:
    """The planned address and prefix on the planned netdev."""
    found = []
    for nic in node.expected.nics:
        want = f"{nic['address']}/{nic['prefix']}"
        link = node.links.get(str(nic.get("netdev")))
        have = sorted(
            f"{a.get('local')}/{a.get('prefixlen')}"
            for a in (link or {}).get("addr_info", [])
            if a.get("family") == "inet"
        )
        if want not in have:
            found.append(_finding(node, nic, "nic.address", ", ".join(have) or "no address", want))
    return found


@judge("nic.carrier")
def carrier(node: Node) -> list[Finding]:
    """The netdev up with carrier (LOWER_UP): the cable to the planned leaf port is continuous."""
    found = []
    for nic in node.expected.nics:
        link = node.links.get(str(nic.get("netdev")))
        if link is None:
            continue  # nic.present names it
        flags = set(link.get("flags") or ())
        if "UP" not in flags:
            found.append(
                _finding(
                    node, nic, "nic.carrier", "interface administratively down", "up with carrier"
                )
            )
        elif "LOWER_UP" not in flags:
            found.append(
                _finding(
                    node,
                    nic,
                    "nic.carrier",
                    f"no carrier (operstate {link.get('operstate')})",
                    f"carrier from {nic.get('leaf')} port {nic.get('leaf_port')}",
                )
            )
    return found


def _counter(node: Node, check: str, counter: str, limit_key: str) -> list[Finding]:
    limit = node.expected.threshold(limit_key)
    if limit is None:
        return []
    found = []
    for nic in node.expected.nics:
        if nic.get("link_layer") != "infiniband":
            continue
        try:
            counters = node.perfquery(nic)
        except NodeProblem as problem:
            found.append(
                _finding(node, nic, check, problem.reason, "perfquery counters", problem.evidence)
            )
            continue
        value = counters.get(counter)
        if value is None or value > limit:
            found.append(_finding(node, nic, check, f"{counter} {value}", f"<= {limit:g}"))
    return found


@judge("nic.link_flaps")
def link_flaps(node: Node) -> list[Finding]:
    """LinkDownedCounter within the flap limit."""
    return _counter(node, "nic.link_flaps", "LinkDownedCounter", "ib_link_flaps_max_24h")


@judge("nic.symbol_errors")
def symbol_errors(node: Node) -> list[Finding]:
    """SymbolErrorCounter within the limit."""
    return _counter(
        node, "nic.symbol_errors", "SymbolErrorCounter", "ib_symbol_errors_max_per_hour"
    )

"""NIC and cable checks: each planned rail/plane port present, ACTIVE at its rate, addressed,
at its MTU and IPoIB mode, routed by its own table, with carrier, and its error counters under
the limits.

Components are ``nic:<host>/rail<n>`` on the compute fabric (``storage1``, ``inband2`` on the
others), with device, netdev, cable, leaf and leaf_port as attributes, so a finding tells a
technician which cable to reseat. What the node can tell of the cable is its carrier: a cut or
unplugged cable, or a dead far-end port, leaves the netdev without LOWER_UP. That the far end is
the planned leaf port needs the switch's view (LLDP / ibnetdiscover), which admission does not
have from the node.

Each rail has a routing table of its own and is judged as the doca_ofed role sets it: a rule
from the rail's address to its table at the table's number as priority, and in the table the
rail's subnet on its netdev from its address, and the default route through the rail's gateway
where its leaf routes. What leaves from a rail's address then leaves by that rail, not by
whichever interface the main table picks.

Counters are cumulative since the last reset; the suite compares them with the per-window
limits (flaps per 24 h, symbol errors per hour) as the gate for a freshly provisioned node,
whose counters were cleared with its burn-in.
"""

from __future__ import annotations

from bringup.catalog import LinkLayer
from bringup.parsers.infiniband import IbPort
from bringup.plan.expectation import NicExpectation
from bringup.validation.checks import Check
from bringup.validation.judge import HAS_IPOIB, HAS_NICS, Judges
from bringup.validation.node import Node, NodeProblem, Route, Rule
from bringup.validation.report import Finding

judges = Judges()


def _finding(
    node: Node,
    nic: NicExpectation,
    check: Check,
    observed: object,
    expected: object,
    evidence: str = "",
) -> Finding:
    return node.finding(f"nic:/{nic.label}", check, observed, expected, evidence, nic.attributes)


def _netdev_only(node: Node, nic: NicExpectation) -> bool:
    """An Ethernet port on a node without the RDMA tools (a CPU node's plain NICs): judged by
    its netdev alone."""
    return nic.link_layer != LinkLayer.INFINIBAND and node.outputs.rc("ibstat") == 127


def _port(node: Node, nic: NicExpectation) -> IbPort | None:
    for ca in node.ibstat.cas:
        if ca.name == nic.device:
            return next((p for p in ca.ports if p.number == nic.port), None)
    return None


@judges.of(Check.NIC_PRESENT, when=HAS_NICS)
def present(node: Node) -> list[Finding]:
    """The HCA port (ibstat) and its netdev (ip) exist."""
    found = []
    for nic in node.expected.nics:
        missing = []
        if not _netdev_only(node, nic) and _port(node, nic) is None:
            missing.append(f"{nic.device} port {nic.port}")
        if nic.netdev not in node.links:
            missing.append(f"netdev {nic.netdev}")
        if missing:
            observed = "absent: " + ", ".join(missing)
            found.append(_finding(node, nic, Check.NIC_PRESENT, observed, "present"))
    return found


@judges.of(Check.NIC_STATE, when=HAS_NICS)
def state(node: Node) -> list[Finding]:
    """Port Active and LinkUp."""
    found = []
    for nic in node.expected.nics:
        if _netdev_only(node, nic):
            link = node.links.get(nic.netdev)
            operstate = link.operstate if link else "absent"
            if operstate != "UP":
                found.append(_finding(node, nic, Check.NIC_STATE, f"operstate {operstate}", "UP"))
            continue
        port = _port(node, nic)
        if port is None:
            found.append(_finding(node, nic, Check.NIC_STATE, "absent", "Active/LinkUp"))
        elif port.state != "Active" or port.physical_state != "LinkUp":
            observed = f"{port.state}/{port.physical_state}"
            found.append(_finding(node, nic, Check.NIC_STATE, observed, "Active/LinkUp"))
    return found


@judges.of(Check.NIC_RATE, when=HAS_NICS)
def rate(node: Node) -> list[Finding]:
    """Active ports at the planned rate (Gb/s)."""
    found = []
    for nic in node.expected.nics:
        if _netdev_only(node, nic):
            continue  # no RDMA tools: the netdev's speed is the driver's claim, not the link's
        port = _port(node, nic)
        want = float(nic.rate_gbps)
        if port is not None and port.state == "Active" and port.rate != want:
            observed = f"{port.rate:g} Gb/s"
            found.append(_finding(node, nic, Check.NIC_RATE, observed, f"{want:g} Gb/s"))
    return found


@judges.of(Check.NIC_ADDRESS, when=HAS_NICS)
def address(node: Node) -> list[Finding]:
    """The planned address and prefix on the planned netdev."""
    found = []
    for nic in node.expected.nics:
        want = f"{nic.address}/{nic.prefix}"
        link = node.links.get(nic.netdev)
        have = sorted(link.inet) if link else []
        if want not in have:
            observed = ", ".join(have) or "no address"
            found.append(_finding(node, nic, Check.NIC_ADDRESS, observed, want))
    return found


@judges.of(Check.NIC_MTU, when=HAS_NICS)
def mtu(node: Node) -> list[Finding]:
    """The planned MTU on the planned netdev."""
    found = []
    for nic in node.expected.nics:
        link = node.links.get(nic.netdev)
        if link is not None and link.mtu != nic.mtu:  # an absent one: nic.present names it
            found.append(_finding(node, nic, Check.NIC_MTU, f"mtu {link.mtu}", f"mtu {nic.mtu}"))
    return found


@judges.of(Check.NIC_IPOIB_MODE, when=HAS_IPOIB)
def ipoib_mode(node: Node) -> list[Finding]:
    """Each IPoIB netdev in its planned mode, as its sysfs `mode` says."""
    found = []
    for nic in node.expected.nics:
        if nic.ipoib_mode is None or nic.netdev not in node.links:
            continue  # no IPoIB planned, or an absent netdev: nic.present names it
        want = f"{nic.ipoib_mode} mode"
        try:
            have = node.ipoib_mode(nic)
        except NodeProblem as problem:  # no mode file: not an IPoIB netdev
            found.append(
                _finding(node, nic, Check.NIC_IPOIB_MODE, problem.reason, want, problem.evidence)
            )
            continue
        if have != nic.ipoib_mode:
            found.append(_finding(node, nic, Check.NIC_IPOIB_MODE, f"{have} mode", want))
    return found


def _planned_routes(nic: NicExpectation, table: str) -> list[Route]:
    """The routes of a rail's table: its subnet from its address, the default through its
    gateway where its leaf routes."""
    routes = [Route(table, str(nic.subnet), "", nic.netdev, nic.address)]
    if nic.gateway:
        routes.append(Route(table, "default", nic.gateway, nic.netdev, ""))
    return routes


def _serves(route: Route, planned: Route) -> bool:
    """Whether `route` is the `planned` one: its destination, gateway and device, and its
    source where one is planned (a default route may name any)."""
    same = (route.destination, route.gateway, route.device)
    return same == (planned.destination, planned.gateway, planned.device) and (
        not planned.source or route.source == planned.source
    )


def _rule_problems(rules: tuple[Rule, ...], nic: NicExpectation, table: str) -> list[str]:
    """What is wrong with the rail's rule: none from its address to its table, or none at the
    table's priority."""
    ours = [r for r in rules if (r.source, r.table) == (nic.address, table)]
    if not ours:
        return [f"no rule from {nic.address} to table {table}"]
    if all(str(r.priority) != table for r in ours):
        at = ", ".join(str(r.priority) for r in ours)
        return [f"rule from {nic.address} to table {table} at priority {at}, not {table}"]
    return []


def _route_problems(routes: tuple[Route, ...], nic: NicExpectation, table: str) -> list[str]:
    """The planned routes the rail's table lacks, each with what the table has to the same
    destination instead."""
    problems = []
    in_table = [r for r in routes if r.table == table]
    for planned in _planned_routes(nic, table):
        if any(_serves(r, planned) for r in in_table):
            continue
        others = [r.text for r in in_table if r.destination == planned.destination]
        there = f" (has {', '.join(others)})" if others else ""
        problems.append(f"table {table}: {planned.text} missing{there}")
    return problems


@judges.of(Check.NIC_ROUTING, when=HAS_NICS)
def routing(node: Node) -> list[Finding]:
    """Each rail: the rule from its address to its table, and the table's routes."""
    found = []
    for nic in node.expected.nics:
        link = node.links.get(nic.netdev)
        # the kernel drops the routes of a netdev set down: nic.present and nic.carrier name it
        if link is None or "UP" not in link.flags:
            continue
        table = str(nic.table)
        problems = _rule_problems(node.rules, nic, table)
        problems += _route_problems(node.routes, nic, table)
        if not problems:
            continue
        planned = ", ".join(r.text for r in _planned_routes(nic, table))
        expected = (
            f"from {nic.address} lookup {table} at priority {table}; table {table}: {planned}"
        )
        evidence = [r.text for r in node.rules if r.source == nic.address or r.table == table]
        evidence += [f"{r.text} table {table}" for r in node.routes if r.table == table]
        observed = "; ".join(problems)
        found.append(
            _finding(node, nic, Check.NIC_ROUTING, observed, expected, "\n".join(evidence))
        )
    return found


@judges.of(Check.NIC_CARRIER, when=HAS_NICS)
def carrier(node: Node) -> list[Finding]:
    """The netdev up with carrier (LOWER_UP): the cable to the planned leaf port is continuous."""
    found = []
    for nic in node.expected.nics:
        link = node.links.get(nic.netdev)
        if link is None:
            continue  # nic.present names it
        if "UP" not in link.flags:
            observed, expected = "interface administratively down", "up with carrier"
        elif "LOWER_UP" not in link.flags:
            observed = f"no carrier (operstate {link.operstate})"
            expected = f"carrier from {nic.leaf} port {nic.leaf_port}"
        else:
            continue
        found.append(_finding(node, nic, Check.NIC_CARRIER, observed, expected))
    return found


def _counter(node: Node, check: Check, counter: str, limit_key: str) -> list[Finding]:
    limit = node.expected.threshold(limit_key)
    if limit is None:
        return []
    found = []
    for nic in node.expected.nics:
        if nic.link_layer != LinkLayer.INFINIBAND:
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


@judges.of(Check.NIC_LINK_FLAPS, when=HAS_NICS)
def link_flaps(node: Node) -> list[Finding]:
    """LinkDownedCounter within the flap limit."""
    return _counter(node, Check.NIC_LINK_FLAPS, "LinkDownedCounter", "ib_link_flaps_max_24h")


@judges.of(Check.NIC_SYMBOL_ERRORS, when=HAS_NICS)
def symbol_errors(node: Node) -> list[Finding]:
    """SymbolErrorCounter within the limit."""
    return _counter(
        node, Check.NIC_SYMBOL_ERRORS, "SymbolErrorCounter", "ib_symbol_errors_max_per_hour"
    )

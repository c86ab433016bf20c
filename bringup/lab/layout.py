"""What the lab builds for a plan: nodes, their NICs and the bridges they hang on. Pure.

Names stay within Linux's 15 characters: bridge ``bl<fabric>p<plane>r<rail>`` (fabric by its
index in the plan), host end of a node's NIC ``bv<node>n<nic>``; the node end carries the
device's real name (``ibp24s0``, ``enP6p3s0f1np1``), and the host end's alias the cable id.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Interface

from bringup.catalog import Role
from bringup.plan import Plan
from bringup.plan.expectation import Expectations
from bringup.plan.model import Node

NETNS_PREFIX = "bringup-"
BRIDGE_PREFIX = "bl"
VETH_PREFIX = "bv"


@dataclass(frozen=True, slots=True)
class LabNic:
    """One emulated NIC: a veth pair from the node to its plane/rail bridge."""

    netdev: str
    host_end: str
    bridge: str
    address: IPv4Interface
    cable: str
    leaf: str
    leaf_port: int
    fabric: str
    role: Role
    ipoib: bool = False
    """An InfiniBand port: its netdev is IPoIB's, with a `mode` (the lab's boot provides it)."""


@dataclass(frozen=True, slots=True)
class LabNode:
    """One lab host: a namespace named after the node, with its NICs."""

    name: str
    index: int
    netns: str
    management: IPv4Interface
    nics: tuple[LabNic, ...]


@dataclass(frozen=True, slots=True)
class LabLayout:
    """Every node, bridge and host-side gateway address of a lab."""

    nodes: tuple[LabNode, ...]
    bridges: tuple[str, ...]
    gateways: tuple[tuple[str, IPv4Interface], ...]  # (bridge, address) the host holds


def lab_layout(plan: Plan, limit: int | None = None) -> LabLayout:
    """The lab of the first `limit` nodes of `plan` (all when None)."""
    fabric_index = {fp.name: i for i, fp in enumerate(plan.fabrics)}
    nodes: list[LabNode] = []
    bridges: set[str] = set()
    gateways: set[tuple[str, IPv4Interface]] = set()
    chosen: list[Node] = list(plan.nodes[:limit] if limit else plan.nodes)
    expectations = Expectations(plan)
    for index, node in enumerate(chosen):
        expected = expectations.of(node)
        if expected.management_address is None:
            raise ValueError(
                f"node {node.name} has no in-band address: the lab needs an inband fabric"
            )
        nics = []
        management: IPv4Interface | None = None
        for n, nic in enumerate(expected.nics):
            bridge = f"{BRIDGE_PREFIX}{fabric_index[nic.fabric]}p{nic.plane}r{nic.rail}"
            address = IPv4Interface(f"{nic.address}/{nic.prefix}")
            bridges.add(bridge)
            nics.append(
                LabNic(
                    netdev=nic.netdev,
                    host_end=f"{VETH_PREFIX}{index}n{n}",
                    bridge=bridge,
                    address=address,
                    cable=nic.cable,
                    leaf=nic.leaf,
                    leaf_port=nic.leaf_port,
                    fabric=nic.fabric,
                    role=nic.role,
                    ipoib=nic.ipoib_mode is not None,
                )
            )
            if nic.role == Role.INBAND and nic.rail == 1 and nic.plane == 1:
                management = address
                gateways.add((bridge, IPv4Interface(f"{nic.gateway}/{nic.prefix}")))
        assert management is not None
        nodes.append(
            LabNode(node.name, index, f"{NETNS_PREFIX}{node.name}", management, tuple(nics))
        )
    return LabLayout(tuple(nodes), tuple(sorted(bridges)), tuple(sorted(gateways, key=str)))

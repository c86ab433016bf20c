"""The state a node must be in: what provisioning converges to and validation checks.

Everything here is read off the plan; nothing is measured. The result is plain data (sorted
keys, JSON types) so that it can be rendered into host_vars unchanged.
"""

from __future__ import annotations

from typing import Any

from bringup.catalog import LinkLayer, Role, Sku, load_catalog
from bringup.catalog.model import Network, Port
from bringup.plan.cabling import node_cable
from bringup.plan.fabric import Endpoint, FabricPlan
from bringup.plan.model import Node
from bringup.plan.plan import Plan


def netdev_name(link_layer: LinkLayer, port: Port, plane: int, multifunction: bool) -> str:
    """Predictable interface name of a ConnectX port, e.g. ``ibp24s0``, ``enP2p3s0f1np1``.

    systemd names a port by PCI domain (when not 0), bus, slot 0 and, on a multi-function
    adapter, its function. A port split over planes shows one more function per extra plane;
    the first plane keeps the port's own name, so adding a plane renames nothing.
    """
    function = port.pci_function + plane - 1
    domain = f"P{port.pci_domain}" if port.pci_domain else ""
    suffix = f"f{function}" if multifunction or function else ""
    if link_layer == LinkLayer.INFINIBAND:
        return f"ib{domain}p{port.pci_bus}s0{suffix}"
    return f"en{domain}p{port.pci_bus}s0{suffix}np{function if suffix else 0}"


# Interface MTU by link layer and network role. IPoIB runs in datagram mode, whose MTU is the 4K
# InfiniBand MTU less the 4-byte IPoIB header (NVIDIA MLNX_OFED/DOCA-OFED "IPoIB" documentation).
# RoCE compute and storage rails carry jumbo frames (NVIDIA's RoCE and Spectrum-X guides set 9000
# on hosts, 9216 on switches). The in-band network reaches services outside the cluster and keeps
# Ethernet's 1500.
_MTU = {
    (LinkLayer.INFINIBAND, None): 4092,
    (LinkLayer.ETHERNET, Role.COMPUTE): 9000,
    (LinkLayer.ETHERNET, Role.STORAGE): 9000,
    (LinkLayer.ETHERNET, None): 1500,
}


def interface_mtu(link_layer: LinkLayer, role: Role) -> int:
    """The MTU a NIC's interface runs at: by link layer, and for Ethernet by network role.

    >>> interface_mtu(LinkLayer.INFINIBAND, Role.COMPUTE)
    4092
    """
    return _MTU.get((link_layer, role)) or _MTU[(link_layer, None)]


def expected_state(plan: Plan, node: Node) -> dict[str, Any]:
    """Everything `node` must show once provisioned and admitted."""
    sku = load_catalog().sku(node.sku)
    state: dict[str, Any] = {
        "name": node.name,
        "kind": node.kind,
        "sku": sku.id,
        "rack": node.rack,
        "position": {
            "hall": node.position.hall,
            "row": node.position.row,
            "rack": node.position.rack,
            "slot": node.slot,
        },
        "su": node.su,
        "management_address": management_address(plan, node),
        "gpu": _gpu(sku),
        "nvlink": _nvlink(plan, node, sku),
        "nics": _nics(plan, node, sku),
        "bmc": _bmc(plan, node),
        "software": _software(plan, sku),
        "mounts": _mounts(plan, node),
        "thresholds": plan.thresholds[sku.id].model_dump(mode="json"),
    }
    return state


def management_address(plan: Plan, node: Node) -> str | None:
    """The node's in-band address (rail 1 of its in-band fabric), or None without one."""
    fp = plan.fabric_for(node, Role.INBAND)
    if fp is None:
        return None
    e = fp.by_name[node.name]
    return str(plan.layouts[fp.name].address(1, 1, e.su, e.slot))


def _gpu(sku: Sku) -> dict[str, Any] | None:
    if sku.gpu is None:
        return None
    return sku.gpu.model_dump(mode="json")


def _nvlink(plan: Plan, node: Node, sku: Sku) -> dict[str, Any] | None:
    if sku.nvlink is None or node.nvlink_domain is None:
        return None
    domain = plan.domain_by_name[node.nvlink_domain]
    peers = [
        {"name": peer, "address": management_address(plan, plan.node(peer))}
        for peer in domain.nodes
    ]
    return {
        "domain": domain.name,
        "generation": sku.nvlink.generation,
        "links_per_gpu": sku.nvlink.links_per_gpu,
        "link_speed_mbps": sku.nvlink.link_speed_mbps,
        "domain_gpus": domain.gpus,
        "switch_trays": list(domain.switch_trays),
        "imex": domain.imex,
        "imex_peers": peers if domain.imex else [],
    }


def _nics(plan: Plan, node: Node, sku: Sku) -> list[dict[str, Any]]:
    nics: list[dict[str, Any]] = []
    for fp in plan.fabrics:
        e = fp.by_name.get(node.name)
        network = sku.network(fp.spec.role)
        if e is None or network is None or fp.tree is None:
            continue
        for plane in fp.planes:
            for rail in range(1, e.ports + 1):
                nics.append(_nic(plan, fp, sku, network, e, plane, rail))
    return nics


def _nic(
    plan: Plan, fp: FabricPlan, sku: Sku, network: Network, e: Endpoint, plane: int, rail: int
) -> dict[str, Any]:
    port = network.ports[rail - 1]
    layout = plan.layouts[fp.name]
    link_layer = fp.spec.link_layer
    su, slot = e.su, e.slot
    cable = node_cable(fp, e, plane, rail)
    gateway = layout.gateway(plane, rail, su)
    return {
        "fabric": fp.name,
        "role": fp.spec.role.value,
        "plane": plane,
        "rail": rail,
        "device": port.device,
        "port": plane,
        "netdev": netdev_name(link_layer, port, plane, _shares_bus(sku, port)),
        "model": network.model,
        "link_layer": link_layer.value,
        "rate_gbps": fp.spec.speed_gbps,
        "mtu": interface_mtu(link_layer, fp.spec.role),
        "address": str(layout.address(plane, rail, su, slot)),
        "prefix": layout.subnet(plane, rail, su).prefixlen,
        "gateway": str(gateway) if gateway else None,
        "cable": cable.id,
        "leaf": cable.b_device,
        "leaf_port": int(cable.b_port),
    }


def _shares_bus(sku: Sku, port: Port) -> bool:
    """Whether another port of the system sits on the same adapter (a multi-function device)."""
    return any(
        (p.pci_domain, p.pci_bus) == (port.pci_domain, port.pci_bus) and p != port
        for network in sku.networks
        for p in network.ports
    )


def _bmc(plan: Plan, node: Node) -> dict[str, Any] | None:
    fp = plan.fabric_for(node, Role.OOB)
    if fp is None:
        return None
    e = fp.by_name[node.name]
    layout = plan.layouts[fp.name]
    cable = plan.cables.cable_at(node.name, "bmc")
    assert cable is not None
    return {
        "fabric": fp.name,
        "address": str(layout.address(1, 1, e.su, e.slot)),
        "prefix": layout.subnet(1, 1, e.su).prefixlen,
        "cable": cable.id,
        "tor": cable.b_device,
        "tor_port": int(cable.b_port),
    }


def _software(plan: Plan, sku: Sku) -> dict[str, Any] | None:
    software = plan.software.get(sku.id)
    return software.model_dump(mode="json") if software else None


def _mounts(plan: Plan, node: Node) -> list[dict[str, Any]]:
    mounts = []
    for store in plan.cluster.storage:
        if store.fabric is not None and node.name not in plan.fabric(store.fabric).by_name:
            continue
        mounts.append(
            {
                "name": store.name,
                "kind": store.kind.value,
                "export": store.export,
                "mount": store.mount,
                "options": store.options,
                "read_gbs": store.read_gbs,
                "write_gbs": store.write_gbs,
            }
        )
    return mounts

"""Racks, nodes and NVLink domains, named from their position (DOMAIN.md §4)."""

from __future__ import annotations

from bringup.catalog import Sku, SystemClass, load_catalog
from bringup.plan.model import Node, NodeKind, NvlinkDomain, Position, RackPlan
from bringup.spec import Cluster, RackGroup


def rack_name(site: str, p: Position) -> str:
    """Stable rack name, e.g. ``sjc1-h1-r03-k07`` (hall 1, row 3, rack 7)."""
    return f"{site}-h{p.hall}-r{p.row:02d}-k{p.rack:02d}"


def node_name(rack: str, sku: Sku, slot: int) -> str:
    """Stable node name: ``<rack>-n<slot>`` for nodes, ``<rack>-t<slot>`` for NVL72 trays."""
    if sku.system_class == SystemClass.NVL72:
        return f"{rack}-t{slot:02d}"
    return f"{rack}-n{slot}"


def switch_tray_name(rack: str, index: int) -> str:
    """Stable name of an NVLink switch tray, e.g. ``sjc1-h1-r03-k07-s4``."""
    return f"{rack}-s{index}"


def plan_racks(cluster: Cluster) -> tuple[list[RackPlan], list[Node], list[NvlinkDomain]]:
    """Every rack, node and NVLink domain of the cluster, in physical order."""
    racks: list[RackPlan] = []
    nodes: list[Node] = []
    domains: list[NvlinkDomain] = []
    for index, group in enumerate(cluster.racks):
        sku = load_catalog().sku(group.sku)
        for offset in range(group.count):
            position = Position(group.hall, group.row, group.rack + offset)
            rack, rack_nodes, rack_domains = _plan_rack(
                cluster.site.name, index, group, sku, position
            )
            racks.append(rack)
            nodes.extend(rack_nodes)
            domains.extend(rack_domains)
    racks.sort(key=lambda r: (r.position.hall, r.position.row, r.position.rack))
    nodes.sort(key=lambda n: n.sort_key)
    domains.sort(key=lambda d: d.name)
    return racks, nodes, domains


def _plan_rack(
    site: str, index: int, group: RackGroup, sku: Sku, position: Position
) -> tuple[RackPlan, list[Node], list[NvlinkDomain]]:
    name = rack_name(site, position)
    rack_scale = sku.nvlink is not None and sku.nvlink.scope == "rack"
    trays = (
        tuple(switch_tray_name(name, i) for i in range(1, sku.nvlink.switch_trays + 1))
        if sku.nvlink is not None and rack_scale
        else ()
    )
    units = group.unit_count
    per_domain = group.nvlink.domain_trays if group.nvlink else units
    imex = sku.software is not None and sku.software.imex
    nodes: list[Node] = []
    domains: list[NvlinkDomain] = []
    for slot in range(1, units + 1):
        name_ = node_name(name, sku, slot)
        if rack_scale:
            domain: str | None = f"{name}-nvl{(slot - 1) // per_domain + 1}"
        elif sku.nvlink is not None:
            domain = f"{name_}-nvl"
            domains.append(
                NvlinkDomain(domain, sku.id, name, (name_,), sku.gpus_per_unit, (), imex)
            )
        else:
            domain = None
        nodes.append(Node(name_, _kind(sku), sku.id, name, position, slot, group.su, index, domain))
    if rack_scale:
        for d in range(units // per_domain):
            members = tuple(n.name for n in nodes[d * per_domain : (d + 1) * per_domain])
            domains.append(
                NvlinkDomain(
                    f"{name}-nvl{d + 1}",
                    sku.id,
                    name,
                    members,
                    sku.gpus_per_unit * per_domain,
                    trays,
                    imex,
                )
            )
    rack = RackPlan(name, sku.id, position, group.su, index, units, trays)
    return rack, nodes, domains


def _kind(sku: Sku) -> NodeKind:
    return "tray" if sku.system_class == SystemClass.NVL72 else "node"

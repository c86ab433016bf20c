"""The Plan: one immutable, deterministic description of everything the cluster will be."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from bringup.catalog import Role, Thresholds, load_catalog
from bringup.catalog.model import Software
from bringup.plan.addressing import AddressLayout, plan_layout
from bringup.plan.cabling import CableIndex
from bringup.plan.fabric import FabricPlan, plan_fabric
from bringup.plan.model import Node, NvlinkDomain, PlanError, RackPlan
from bringup.plan.nodes import plan_racks
from bringup.plan.software import resolve_software, resolve_thresholds
from bringup.spec import Cluster


@dataclass(frozen=True)
class Plan:
    """Racks, nodes, NVLink domains, fabrics, addresses and the software each SKU runs.

    Cables are not stored: :attr:`cables` finds any of them by id or by either end, and
    :func:`bringup.plan.cabling.fabric_cables` enumerates them.
    """

    cluster: Cluster
    racks: tuple[RackPlan, ...]
    nodes: tuple[Node, ...]
    domains: tuple[NvlinkDomain, ...]
    fabrics: tuple[FabricPlan, ...]
    layouts: dict[str, AddressLayout]
    software: dict[str, Software]
    thresholds: dict[str, Thresholds]
    by_name: dict[str, Node] = field(compare=False, repr=False)

    @cached_property
    def cables(self) -> CableIndex:
        """Look-ups of cables by id and by endpoint."""
        return CableIndex(self.fabrics)

    @cached_property
    def domain_by_name(self) -> dict[str, NvlinkDomain]:
        """NVLink domains by name."""
        return {d.name: d for d in self.domains}

    def node(self, name: str) -> Node:
        """The node called `name`; KeyError when there is none."""
        return self.by_name[name]

    def fabric(self, name: str) -> FabricPlan:
        """The fabric called `name`; KeyError when there is none."""
        for fp in self.fabrics:
            if fp.name == name:
                return fp
        raise KeyError(name)

    def fabric_for(self, node: Node, role: Role) -> FabricPlan | None:
        """The fabric of `role` that `node` attaches to, if any."""
        for fp in self.fabrics:
            if fp.spec.role == role and node.name in fp.by_name:
                return fp
        return None

    @property
    def gpus(self) -> int:
        """GPUs in the whole cluster."""
        catalog = load_catalog()
        return sum(catalog.sku(n.sku).gpus_per_unit for n in self.nodes)


def make_plan(cluster: Cluster) -> Plan:
    """Plan `cluster`; PlanError lists every problem found (compatibility, capacity, addresses)."""
    racks, nodes, domains = plan_racks(cluster)
    problems: list[str] = []
    fabrics: list[FabricPlan] = []
    layouts: dict[str, AddressLayout] = {}
    for spec in cluster.fabrics:
        try:
            fp = plan_fabric(cluster, spec, racks, nodes)
            fabrics.append(fp)
            layouts[fp.name] = plan_layout(fp)
        except PlanError as error:
            problems += error.problems
    skus = sorted({n.sku for n in nodes})
    try:
        software = resolve_software(cluster, skus)
    except PlanError as error:
        problems += error.problems
        software = {}
    if problems:
        raise PlanError(problems)
    return Plan(
        cluster=cluster,
        racks=tuple(racks),
        nodes=tuple(nodes),
        domains=tuple(domains),
        fabrics=tuple(fabrics),
        layouts=layouts,
        software=software,
        thresholds=resolve_thresholds(cluster, skus),
        by_name={n.name: n for n in nodes},
    )

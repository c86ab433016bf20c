"""The Plan: one immutable, deterministic description of everything the cluster will be."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
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
from bringup.spec import Cluster, StorageSystem


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

    @cached_property
    def rack_by_name(self) -> dict[str, RackPlan]:
        """Racks by name."""
        return {r.name: r for r in self.racks}

    @cached_property
    def shared_domains(self) -> tuple[NvlinkDomain, ...]:
        """NVLink domains of several nodes (NVL72 racks): the ones judged as a unit."""
        return tuple(d for d in self.domains if len(d.nodes) > 1)

    @cached_property
    def _shared_by_rack(self) -> dict[str, tuple[NvlinkDomain, ...]]:
        by_rack: dict[str, list[NvlinkDomain]] = {}
        for domain in self.shared_domains:
            by_rack.setdefault(domain.rack, []).append(domain)
        return {rack: tuple(domains) for rack, domains in by_rack.items()}

    def shared_domains_in(self, rack: str) -> tuple[NvlinkDomain, ...]:
        """The NVLink domains of several nodes in `rack` (an NVL72 rack's one domain)."""
        return self._shared_by_rack.get(rack, ())

    def node(self, name: str) -> Node:
        """The node called `name`; KeyError when there is none."""
        return self.by_name[name]

    def nodes_in(self, rack: str) -> tuple[Node, ...]:
        """The nodes of `rack` in slot order; KeyError when the plan has no such rack."""
        found = self.rack_by_name[rack]
        p = found.position
        # nodes are in physical order (hall, row, rack, slot): a rack's nodes are one run
        first = bisect_left(self.nodes, (p.hall, p.row, p.rack, 0), key=lambda n: n.sort_key)
        return self.nodes[first : first + found.units]

    def gpus_of(self, node: Node) -> int:
        """GPUs in `node` (0 for a CPU node)."""
        return load_catalog().sku(node.sku).gpus_per_unit

    def storage_of(self, node: Node) -> tuple[StorageSystem, ...]:
        """The storage systems `node` mounts: every one without a fabric, else those whose
        fabric it attaches to."""
        return tuple(
            s
            for s in self.cluster.storage
            if s.fabric is None or node.name in self.fabric(s.fabric).by_name
        )

    def clients_of(self, storage: str) -> tuple[Node, ...]:
        """The nodes that mount storage system `storage`."""
        return tuple(n for n in self.nodes if any(s.name == storage for s in self.storage_of(n)))

    def capacity(self, nodes: Iterable[str]) -> dict[str, dict[str, int]]:
        """Nodes and GPUs per SKU of the named nodes (names not in the plan are ignored).

        >>> # plan.capacity(admitted) -> {"hgx-h100": {"nodes": 2, "gpus": 16}}
        """
        out: dict[str, dict[str, int]] = {}
        for name in sorted(set(nodes)):
            node = self.by_name.get(name)
            if node is None:
                continue
            row = out.setdefault(node.sku, {"nodes": 0, "gpus": 0})
            row["nodes"] += 1
            row["gpus"] += self.gpus_of(node)
        return dict(sorted(out.items()))

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
        return sum(self.gpus_of(n) for n in self.nodes)


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

"""Each fabric: who attaches where (SU and slot), the tree of every plane, switch names.

Slots: within one SU, a fabric's endpoints take slots 1, 2, … in physical order (hall, row, rack,
slot); appliances take the last slots of their SU. Racks added behind the existing ones therefore
never move an existing endpoint. OOB fabrics are not trees: each rack gets its own ToRs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from math import ceil

from bringup.catalog import Role, Switch, load_catalog
from bringup.catalog.model import SwitchMode
from bringup.plan.model import Node, PlanError, RackPlan
from bringup.plan.tree import Tree, max_host_ports, size_tree
from bringup.spec import Cluster, Fabric


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Something cabled to a fabric: a node, an appliance or (OOB) a switch tray's BMC."""

    name: str
    su: int
    slot: int
    ports: int  # rails it uses (1..rails)
    rack: str | None
    devices: tuple[str, ...]  # its port names in rail order (shared per SKU)


@dataclass(frozen=True)
class FabricPlan:
    """One fabric: its spec, switch mode, endpoints and (unless OOB) the tree of each plane."""

    spec: Fabric
    switch: Switch
    mode: SwitchMode
    rails: int
    endpoints: tuple[Endpoint, ...]
    tree: Tree | None
    built_sus: tuple[int, ...]
    tors: tuple[tuple[str, int], ...] = ()  # OOB: (rack, ToR count) in rack order
    by_name: dict[str, Endpoint] = field(default_factory=dict, compare=False, repr=False)
    by_slot: dict[tuple[int, int], Endpoint] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def name(self) -> str:
        """The fabric's name."""
        return self.spec.name

    @property
    def planes(self) -> range:
        """Plane numbers, 1-based."""
        return range(1, self.spec.planes + 1)

    @property
    def is_tree(self) -> bool:
        """False for OOB fabrics, which are per-rack ToRs."""
        return self.tree is not None

    def host_ports(self) -> int:
        """Cabled host ports in one plane (nodes and appliances)."""
        return sum(e.ports for e in self.endpoints)

    def leaves(self) -> int:
        """Leaves built in one plane (whole SUs) or ToRs of an OOB fabric."""
        if self.tree is None:
            return sum(count for _, count in self.tors)
        return len(self.built_sus) * self.tree.leaves_per_su

    def spines(self) -> int:
        """Spines built in one plane."""
        tree = self.tree
        if tree is None:
            return 0
        if tree.tiers == 2:
            return tree.spines
        return sum(tree.pod_spines(p) for p in self.built_pods())

    def core(self) -> int:
        """Core switches in one plane."""
        return self.tree.core if self.tree is not None else 0

    def built_pods(self) -> list[int]:
        """Three tiers: 0-based pods holding at least one built leaf."""
        tree = self.tree
        if tree is None or tree.tiers != 3:
            return []
        pods: set[int] = set()
        for su in self.built_sus:
            first = tree.leaf_index(su, 1, 1)
            last = first + tree.leaves_per_su - 1
            pods.update(range(first // tree.pod_leaves, last // tree.pod_leaves + 1))
        return sorted(pods)

    def leaf_name(self, plane: int, su: int, rail: int, i: int) -> str:
        """Name of leaf `i` of `rail` in `su`, e.g. ``compute-p1-su02-r5-l1``."""
        return f"{self.name}-p{plane}-su{su:02d}-r{rail}-l{i}"

    def spine_name(self, plane: int, pod: int, j: int) -> str:
        """Name of spine `j` (0-based), in `pod` (0-based) under three tiers."""
        if self.tree is not None and self.tree.tiers == 3:
            return f"{self.name}-p{plane}-pod{pod + 1:02d}-s{j + 1}"
        return f"{self.name}-p{plane}-s{j + 1}"

    def core_name(self, plane: int, group: int, h: int) -> str:
        """Name of core switch `h` (0-based) of core group `group` (0-based)."""
        assert self.tree is not None
        return f"{self.name}-p{plane}-core{group * self.tree.core_group + h + 1}"

    def tor_name(self, rack: str, i: int) -> str:
        """Name of OOB ToR `i` (1-based) of `rack`."""
        return f"{self.name}-{rack}-tor{i}"


def plan_fabric(
    cluster: Cluster, spec: Fabric, racks: list[RackPlan], nodes: list[Node]
) -> FabricPlan:
    """Attach endpoints to `spec` and size its planes; PlanError says what does not fit."""
    catalog = load_catalog()
    switch = catalog.switch(spec.switch)
    mode = switch.mode(spec.speed_gbps)
    assert mode is not None  # checked by the spec
    groups = [i for i, g in enumerate(cluster.racks) if spec in cluster.fabrics_of(g)]
    members = [n for n in nodes if n.group in groups]
    if spec.role == Role.OOB:
        return _plan_oob(spec, switch, mode, racks, members, groups)
    rails = max((_ports(n.sku, spec) for n in members), default=1)
    endpoints = _slot(spec, members, rails)
    built = tuple(sorted({e.su for e in endpoints}))
    design = spec.design_sus or max(built, default=1)
    if built and built[-1] > design:
        raise PlanError(
            [f"fabrics.{spec.name}.design_sus: {design}, but SU {built[-1]} has racks on it"]
        )
    tree = _size(spec, switch, mode, rails, design)
    return _indexed(FabricPlan(spec, switch, mode, rails, tuple(endpoints), tree, built))


def _ports(sku_id: str, spec: Fabric) -> int:
    return len(_devices(sku_id, spec.role))


@cache
def _devices(sku_id: str, role: Role) -> tuple[str, ...]:
    network = load_catalog().sku(sku_id).network(role)
    return tuple(p.device for p in network.ports) if network is not None else ()


def _slot(spec: Fabric, members: list[Node], rails: int) -> list[Endpoint]:
    by_su: dict[int, list[Node]] = defaultdict(list)
    for node in members:
        by_su[node.su].append(node)
    reserved: dict[int, list[tuple[str, int]]] = defaultdict(list)
    problems = []
    for a in spec.appliances:
        if a.ports > rails:
            problems.append(
                f"fabrics.{spec.name}.appliances.{a.name}.ports: {a.ports} > {rails} rails"
            )
        reserved[a.su].append((a.name, a.ports))
    endpoints: list[Endpoint] = []
    for su in sorted(set(by_su) | set(reserved)):
        su_nodes = sorted(by_su[su], key=lambda n: n.sort_key)
        taken = len(su_nodes) + len(reserved[su])
        if taken > spec.nodes_per_su:
            problems.append(
                f"fabrics.{spec.name}.nodes_per_su: SU {su} has {len(su_nodes)} nodes and "
                f"{len(reserved[su])} appliances, more than its {spec.nodes_per_su} slots"
            )
            continue
        for slot, node in enumerate(su_nodes, start=1):
            devices = _devices(node.sku, spec.role)
            endpoints.append(Endpoint(node.name, su, slot, len(devices), node.rack, devices))
        for k, (name, ports) in enumerate(reserved[su]):
            names = tuple(f"port{p}" for p in range(1, ports + 1))
            endpoints.append(Endpoint(name, su, spec.nodes_per_su - k, ports, None, names))
    if problems:
        raise PlanError(problems)
    return endpoints


def _size(spec: Fabric, switch: Switch, mode: SwitchMode, rails: int, design: int) -> Tree:
    for ratio in range(1, spec.max_oversubscription + 1):
        tree = size_tree(mode.ports, spec.nodes_per_su, rails, design, ratio)
        if tree is not None:
            return tree
    raise PlanError([_refusal(spec, switch, mode, rails, design)])


def _refusal(spec: Fabric, switch: Switch, mode: SwitchMode, rails: int, design: int) -> str:
    """Why a plane does not fit three tiers, and what would."""
    half = mode.ports // 2
    leaves = design * rails * ceil(spec.nodes_per_su / half)
    _, limit = max_host_ports(mode.ports)
    options = []
    # A port split over more planes runs slower, which raises the radix of every switch.
    for planes in (2, 4, 8):
        if planes <= spec.planes or (spec.speed_gbps * spec.planes) % planes:
            continue
        speed = spec.speed_gbps * spec.planes // planes
        lower = switch.mode(speed)
        if lower and size_tree(lower.ports, spec.nodes_per_su, rails, design):
            options.append(f"planes: {planes} at {speed} Gb/s (radix {lower.ports})")
    for other in sorted(load_catalog().switches.values(), key=lambda s: s.id):
        alt = other.mode(spec.speed_gbps)
        if other.id == switch.id or other.link_layer != switch.link_layer or alt is None:
            continue
        if size_tree(alt.ports, spec.nodes_per_su, rails, design):
            options.append(f"switch: {other.id} (radix {alt.ports} at {spec.speed_gbps} Gb/s)")
    for ratio in range(spec.max_oversubscription + 1, 9):
        if size_tree(mode.ports, spec.nodes_per_su, rails, design, ratio):
            options.append(f"max_oversubscription: {ratio} (a blocking fabric)")
            break
    fits = "; ".join(options) if options else "nothing in the catalog; split the cluster"
    return (
        f"fabrics.{spec.name}: {design} SUs need {leaves:,} leaves ({leaves * half:,} host ports) "
        f"per plane at {spec.speed_gbps} Gb/s; three tiers of {switch.id} (radix {mode.ports}) "
        f"hold at most {mode.ports * half:,} leaves ({limit:,} host ports) non-blocking. "
        f"Would fit: {fits}"
    )


def _plan_oob(
    spec: Fabric,
    switch: Switch,
    mode: SwitchMode,
    racks: list[RackPlan],
    members: list[Node],
    groups: list[int],
) -> FabricPlan:
    """OOB: every BMC (nodes and NVLink switch trays) to its rack's ToRs."""
    in_fabric = [r for r in racks if r.group in groups]
    by_rack: dict[str, list[tuple[str, int]]] = {r.name: [] for r in in_fabric}
    for node in members:
        by_rack[node.rack].append((node.name, node.su))
    for rack in in_fabric:
        by_rack[rack.name].extend((t, rack.su) for t in rack.switch_trays)
    endpoints: list[Endpoint] = []
    next_slot: dict[int, int] = defaultdict(int)
    tors = []
    for rack in in_fabric:
        names = by_rack[rack.name]
        tors.append((rack.name, max(spec.tors_per_rack, ceil(len(names) / mode.ports))))
        for name, su in names:
            next_slot[su] += 1
            endpoints.append(Endpoint(name, su, next_slot[su], 1, rack.name, ("bmc",)))
    full = [su for su, used in next_slot.items() if used > spec.nodes_per_su]
    if full:
        raise PlanError(
            [
                f"fabrics.{spec.name}.nodes_per_su: SU {su} has {next_slot[su]} BMC ports, "
                f"more than {spec.nodes_per_su}"
                for su in sorted(full)
            ]
        )
    built = tuple(sorted(next_slot))
    plan = FabricPlan(spec, switch, mode, 1, tuple(endpoints), None, built, tuple(tors))
    return _indexed(plan)


def _indexed(plan: FabricPlan) -> FabricPlan:
    for e in plan.endpoints:
        plan.by_name[e.name] = e
        plan.by_slot[(e.su, e.slot)] = e
    return plan

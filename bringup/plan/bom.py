"""Bill of materials: racks, systems, switches, cables, transceivers and power.

Transceivers assume optical links everywhere above 1 Gb/s: a node port takes one transceiver per
NIC port (a split port's planes share it), a switch cage carries ``ports_per_cage`` logical ports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from math import ceil

from pydantic import JsonValue

from bringup.catalog import load_catalog
from bringup.plan.cabling import cable_counts
from bringup.plan.fabric import FabricPlan
from bringup.plan.plan import Plan


@dataclass(frozen=True, slots=True)
class PlaneCounts:
    """Switches, cables and transceivers of one plane."""

    tiers: int
    leaf: int
    spine: int
    core: int
    node_leaf: int
    leaf_spine: int
    spine_core: int
    transceivers: int

    def as_dict(self) -> dict[str, JsonValue]:
        """The shape ``bringup plan --format json`` prints for a plane."""
        return {
            "tiers": self.tiers,
            "leaf": self.leaf,
            "spine": self.spine,
            "core": self.core,
            "cables": {
                "node_leaf": self.node_leaf,
                "leaf_spine": self.leaf_spine,
                "spine_core": self.spine_core,
            },
            "transceivers": self.transceivers,
        }


def plane_counts(fp: FabricPlan, plane: int) -> PlaneCounts:
    """Counts for one plane; every plane of a fabric has the same shape."""
    cables = cable_counts(fp)
    return PlaneCounts(
        tiers=fp.tree.tiers if fp.tree is not None else 1,
        leaf=fp.leaves(),
        spine=fp.spines(),
        core=fp.core(),
        node_leaf=cables["node-leaf"],
        leaf_spine=cables["leaf-spine"],
        spine_core=cables["spine-core"],
        transceivers=_transceivers(
            fp, plane, cables["node-leaf"], cables["leaf-spine"], cables["spine-core"]
        ),
    )


def _transceivers(
    fp: FabricPlan, plane: int, node_leaf: int, leaf_spine: int, spine_core: int
) -> int:
    if fp.spec.speed_gbps <= 1:
        return 0  # copper RJ45 (OOB)
    per_cage = fp.mode.ports_per_cage
    node_side = sum(e.ports for e in fp.endpoints) if plane == 1 else 0
    switch_side = (
        ceil(node_leaf / per_cage)
        + 2 * ceil(leaf_spine / per_cage)
        + 2 * ceil(spine_core / per_cage)
    )
    return node_side + switch_side


@dataclass(frozen=True)
class BillOfMaterials:
    """What to order and how much power to provision."""

    racks: dict[str, int]
    systems: dict[str, int]
    gpus: dict[str, int]
    nvlink_switch_trays: int
    switches: dict[str, int]
    cables: dict[str, int]
    transceivers: dict[str, int]
    power_kw: float


def bill_of_materials(plan: Plan) -> BillOfMaterials:
    """Count everything in the plan, sorted by name."""
    catalog = load_catalog()
    racks = Counter(r.sku for r in plan.racks)
    systems = Counter(n.sku for n in plan.nodes)
    gpus = Counter({sku: count * catalog.sku(sku).gpus_per_unit for sku, count in systems.items()})
    switches: Counter[str] = Counter()
    cables: Counter[str] = Counter()
    transceivers: Counter[str] = Counter()
    for fp in plan.fabrics:
        for plane in fp.planes:
            c = plane_counts(fp, plane)
            switches[fp.switch.id] += c.leaf + c.spine + c.core
            prefix = f"{fp.spec.kind.value}-{fp.spec.speed_gbps}g"
            for tier, count in (
                ("node-leaf", c.node_leaf),
                ("leaf-spine", c.leaf_spine),
                ("spine-core", c.spine_core),
            ):
                if count:
                    cables[f"{prefix}-{tier}"] += count
            if c.transceivers:
                transceivers[f"{prefix}-x{fp.mode.ports_per_cage}"] += c.transceivers
    watts = sum(catalog.sku(sku).power.unit_watts * count for sku, count in systems.items())
    watts += sum(catalog.sku(sku).power.rack_overhead_watts * count for sku, count in racks.items())
    watts += sum(catalog.switch(model).power_watts * count for model, count in switches.items())
    return BillOfMaterials(
        racks=dict(sorted(racks.items())),
        systems=dict(sorted(systems.items())),
        gpus=dict(sorted((k, v) for k, v in gpus.items() if v)),
        nvlink_switch_trays=sum(len(r.switch_trays) for r in plan.racks),
        switches=dict(sorted(switches.items())),
        cables=dict(sorted(cables.items())),
        transceivers=dict(sorted(transceivers.items())),
        power_kw=round(watts / 1000, 1),
    )

"""The plan's building blocks: racks, nodes, NVLink domains; small, immutable, sorted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bringup.errors import BringupError

NodeKind = Literal["node", "tray"]


class PlanError(BringupError):
    """A declaration that validates but cannot be built; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def __str__(self) -> str:
        return "cannot plan the cluster:\n" + "\n".join(f"  - {p}" for p in self.problems)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a rack stands: hall, row, rack number in the row."""

    hall: int
    row: int
    rack: int


@dataclass(frozen=True, slots=True)
class RackPlan:
    """One physical rack."""

    name: str
    sku: str
    position: Position
    su: int
    group: int  # index of the declaring rack group in the spec
    units: int
    switch_trays: tuple[str, ...]  # NVLink switch trays (rack-scale domains), else ()


@dataclass(frozen=True, slots=True)
class Node:
    """One schedulable host: an HGX or CPU node, or a compute tray of an NVL72 rack."""

    name: str
    kind: NodeKind
    sku: str
    rack: str
    position: Position
    slot: int  # 1-based position in the rack (tray number for NVL72)
    su: int
    group: int
    nvlink_domain: str | None

    @property
    def sort_key(self) -> tuple[int, int, int, int]:
        """Physical order: hall, row, rack, slot."""
        p = self.position
        return (p.hall, p.row, p.rack, self.slot)


@dataclass(frozen=True, slots=True)
class NvlinkDomain:
    """GPUs that share one NVLink fabric: one HGX node, or (part of) an NVL72 rack."""

    name: str
    sku: str
    rack: str
    nodes: tuple[str, ...]
    gpus: int
    switch_trays: tuple[str, ...]
    imex: bool

"""Small builders of cluster declarations for planner tests."""

from __future__ import annotations

from typing import Any

from bringup.spec import Cluster, parse_cluster


def compute_fabric(**changes: Any) -> dict[str, Any]:
    """An NDR compute fabric of QM9700 at 400G, 32 nodes per SU."""
    fabric: dict[str, Any] = {
        "name": "compute",
        "kind": "infiniband",
        "role": "compute",
        "switch": "qm9700",
        "speed_gbps": 400,
        "nodes_per_su": 32,
        "cidr": "10.128.0.0/12",
    }
    fabric.update(changes)
    return fabric


def su_racks(sku: str, sus: int, racks_per_su: int = 8, **changes: Any) -> list[dict[str, Any]]:
    """One row of racks per SU."""
    return [
        {"sku": sku, "count": racks_per_su, "hall": 1, "row": su, "rack": 1, "su": su, **changes}
        for su in range(1, sus + 1)
    ]


def cluster(racks: list[dict[str, Any]], fabrics: list[dict[str, Any]], **extra: Any) -> Cluster:
    """A validated cluster named 't' at site 'x'."""
    return parse_cluster(
        {"name": "t", "site": {"name": "x"}, "racks": racks, "fabrics": fabrics, **extra}
    )

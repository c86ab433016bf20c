"""DOMAIN.md §3: the NVIDIA reference-architecture tables, reproduced by the planner."""

from __future__ import annotations

import pytest

from bringup.plan import make_plan
from bringup.plan.bom import plane_counts

from .conftest import cluster, compute_fabric, su_racks


def _h100_superpod(sus: int):  # type: ignore[no-untyped-def]
    """DGX H100 SuperPOD: the UFM appliance takes the last slot of SU 1 (4 ports)."""
    racks = su_racks("hgx-h100", sus)
    racks[0] = {**racks[0], "count": 7}
    racks.insert(
        1, {"sku": "hgx-h100", "count": 1, "hall": 1, "row": 1, "rack": 8, "su": 1, "units": 3}
    )
    fabric = compute_fabric(appliances=[{"name": "ufm", "su": 1, "ports": 4}])
    return make_plan(cluster(racks, [fabric]))


@pytest.mark.parametrize(
    ("sus", "nodes", "gpus", "leaves", "spines", "node_leaf", "leaf_spine"),
    [
        (1, 31, 248, 8, 4, 252, 256),
        (2, 63, 504, 16, 8, 508, 512),
        (3, 95, 760, 24, 16, 764, 768),
        (4, 127, 1016, 32, 16, 1020, 1024),
    ],
)
def test_dgx_h100_superpod(
    sus: int, nodes: int, gpus: int, leaves: int, spines: int, node_leaf: int, leaf_spine: int
) -> None:
    plan = _h100_superpod(sus)
    counts = plane_counts(plan.fabric("compute"), 1)
    assert (len(plan.nodes), plan.gpus) == (nodes, gpus)
    assert (counts.tiers, counts.leaf, counts.spine, counts.core) == (2, leaves, spines, 0)
    assert (counts.node_leaf, counts.leaf_spine, counts.spine_core) == (node_leaf, leaf_spine, 0)


@pytest.mark.parametrize(
    (
        "sus",
        "nodes",
        "gpus",
        "tiers",
        "leaves",
        "spines",
        "core",
        "node_leaf",
        "leaf_spine",
        "spine_core",
    ),
    [
        (2, 64, 512, 2, 16, 8, 0, 512, 512, 0),
        (4, 128, 1024, 2, 32, 16, 0, 1024, 1024, 0),
        (8, 256, 2048, 2, 64, 32, 0, 2048, 2048, 0),
        # From 16 SUs the plane needs three tiers (R²/2 = 2,048 host ports for QM9700 at 400G);
        # every tier then carries as many cables as there are host ports.
        (16, 512, 4096, 3, 128, 128, 64, 4096, 4096, 4096),
    ],
)
def test_dgx_b200_superpod(
    sus: int,
    nodes: int,
    gpus: int,
    tiers: int,
    leaves: int,
    spines: int,
    core: int,
    node_leaf: int,
    leaf_spine: int,
    spine_core: int,
) -> None:
    plan = make_plan(cluster(su_racks("hgx-b200", sus), [compute_fabric()]))
    counts = plane_counts(plan.fabric("compute"), 1)
    assert (len(plan.nodes), plan.gpus) == (nodes, gpus)
    assert (counts.tiers, counts.leaf, counts.spine, counts.core) == (tiers, leaves, spines, core)
    assert (counts.node_leaf, counts.leaf_spine, counts.spine_core) == (
        node_leaf,
        leaf_spine,
        spine_core,
    )


def test_dgx_b300_spectrum_x_two_planes() -> None:
    """SN5600 at 400G, 64 nodes per SU, each GPU 2 x 400G over two planes."""
    fabric = compute_fabric(kind="ethernet", switch="sn5600", nodes_per_su=64, planes=2)
    plan = make_plan(cluster(su_racks("hgx-b300", 1, racks_per_su=16), [fabric]))
    fp = plan.fabric("compute")
    per_plane = [plane_counts(fp, p) for p in fp.planes]
    assert (len(plan.nodes), plan.gpus) == (64, 512)
    assert sum(c.leaf for c in per_plane) == 16
    assert sum(c.spine for c in per_plane) == 8
    # 512 cables per plane: one 400G link per GPU and plane; as 800G twin-port cables, 512 in all.
    assert [(c.node_leaf, c.leaf_spine) for c in per_plane] == [(512, 512), (512, 512)]

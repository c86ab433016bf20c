"""Cables: generated, found by id and by either end, and wired as a fat tree must be."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from bringup.plan import Plan, make_plan
from bringup.plan.cabling import cable_counts, fabric_cables

from .conftest import cluster, compute_fabric, su_racks

OOB = {
    "name": "oob",
    "kind": "ethernet",
    "role": "oob",
    "switch": "sn2201",
    "speed_gbps": 1,
    "nodes_per_su": 64,
    "cidr": "10.32.0.0/16",
    "tors_per_rack": 2,
}


def _plans() -> dict[str, Plan]:
    hdr = compute_fabric(switch="qm8700", speed_gbps=200, nodes_per_su=20)
    return {
        # two tiers, a partly filled SU, an appliance, an OOB fabric with switch trays
        "two-tier": make_plan(
            cluster(
                [
                    {"sku": "hgx-h100", "count": 3, "hall": 1, "row": 1, "rack": 1, "su": 1},
                    {"sku": "gb200-nvl72", "count": 1, "hall": 1, "row": 2, "rack": 1, "su": 2},
                ],
                [compute_fabric(appliances=[{"name": "ufm", "ports": 4}]), OOB],
            )
        ),
        # three tiers: 6 SUs of 8 HDR leaves exceed the 40 leaves two tiers of QM8700 hold
        "three-tier": make_plan(cluster(su_racks("hgx-a100", 6, racks_per_su=5), [hdr])),
        # two planes, and SU 2 missing in the middle
        "planes": make_plan(
            cluster(
                [{**r, "su": r["su"] * 2 - 1} for r in su_racks("hgx-b300", 2, racks_per_su=2)],
                [compute_fabric(kind="ethernet", switch="sn5600", nodes_per_su=64, planes=2)],
            )
        ),
    }


PLANS = _plans()


@pytest.fixture(params=sorted(PLANS))
def plan(request: pytest.FixtureRequest) -> Plan:
    return PLANS[request.param]


def test_three_tier_case_is_three_tiers() -> None:
    tree = PLANS["three-tier"].fabric("compute").tree
    assert tree is not None
    assert tree.tiers == 3


def test_every_cable_is_found_by_id_and_both_ends(plan: Plan) -> None:
    for fp in plan.fabrics:
        for p in fp.planes:
            for cable in fabric_cables(fp, p):
                assert plan.cables.cable_by_id(cable.id) == cable
                assert plan.cables.cable_at(cable.a_device, cable.a_port) == cable
                assert plan.cables.cable_at(cable.b_device, cable.b_port) == cable


def test_no_port_carries_two_cables(plan: Plan) -> None:
    for fp in plan.fabrics:
        ends: Counter[tuple[str, str]] = Counter()
        ids: Counter[str] = Counter()
        for p in fp.planes:
            for cable in fabric_cables(fp, p):
                ends[(cable.a_device, cable.a_port)] += 1
                ends[(cable.b_device, cable.b_port)] += 1
                ids[cable.id] += 1
        assert max(ends.values()) == 1
        assert max(ids.values()) == 1


def test_counts_match_generated_cables(plan: Plan) -> None:
    for fp in plan.fabrics:
        for p in fp.planes:
            generated = Counter(c.tier for c in fabric_cables(fp, p))
            assert {t: n for t, n in cable_counts(fp).items() if n} == dict(generated)


def test_switch_ports_within_radix_and_non_blocking(plan: Plan) -> None:
    for fp in plan.fabrics:
        tree = fp.tree
        if tree is None:
            continue
        down: Counter[str] = Counter()
        up: Counter[str] = Counter()
        pairs: dict[str, Counter[str]] = defaultdict(Counter)
        for cable in fabric_cables(fp, 1):
            assert 1 <= int(cable.b_port) <= tree.radix
            if cable.tier == "node-leaf":
                assert int(cable.b_port) <= tree.down
                down[cable.b_device] += 1
            else:
                assert int(cable.a_port) > tree.down if cable.tier == "leaf-spine" else True
                up[cable.a_device] += 1
                pairs[cable.a_device][cable.b_device] += 1
        leaves = [name for name in up if "-su" in name]
        assert len(leaves) == fp.leaves()
        for leaf in leaves:
            assert up[leaf] == tree.up  # every uplink of a built leaf is cabled
            assert len(set(pairs[leaf].values())) == 1  # spread evenly over its spines


def test_unknown_ends_find_nothing(plan: Plan) -> None:
    assert plan.cables.cable_at("no-such-switch", "1") is None
    assert plan.cables.cable_by_id("garbage") is None
    fp = plan.fabrics[0]
    assert plan.cables.cable_at(fp.leaf_name(1, 99, 1, 1), "1") is None
    assert plan.cables.cable_at(plan.nodes[0].name, "mlx5_99/1") is None

"""Property tests: determinism, stability under growth, DNS-safe names."""

from __future__ import annotations

import io
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bringup.plan import (
    Plan,
    fabric_cables,
    make_plan,
    node_expectation,
    write_cabling_csv,
    write_plan_json,
)
from bringup.spec import parse_cluster

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
SKUS = ["hgx-h100", "hgx-b200", "gb200-nvl72", "gb300-nvl72", "hgx-b300"]


def _fabrics(planes: int, design_sus: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "compute",
            "kind": "infiniband",
            "role": "compute",
            "switch": "qm9700",
            "speed_gbps": 200,
            "planes": planes,
            "nodes_per_su": 64,
            "design_sus": design_sus,
            "cidr": "10.128.0.0/12",
        },
        {
            "name": "inband",
            "kind": "ethernet",
            "role": "inband",
            "switch": "sn4600c",
            "speed_gbps": 100,
            "nodes_per_su": 64,
            "design_sus": design_sus,
            "cidr": "10.64.0.0/14",
        },
        {
            "name": "oob",
            "kind": "ethernet",
            "role": "oob",
            "switch": "sn2201",
            "speed_gbps": 1,
            "nodes_per_su": 128,
            "design_sus": design_sus,
            "cidr": "10.32.0.0/16",
        },
    ]


@st.composite
def layouts(draw: st.DrawFn) -> dict[str, Any]:
    """A cluster: per SU a run of racks of one SKU (HGX or NVL72), ready to grow."""
    sku = draw(st.sampled_from(SKUS))
    sus = draw(st.integers(1, 3))
    per_su = 3 if sku.endswith("nvl72") else draw(st.integers(1, 12))
    racks = [
        {
            "sku": sku,
            "count": draw(st.integers(1, per_su)),
            "hall": 1,
            "row": su,
            "rack": 1,
            "su": su,
        }
        for su in range(1, sus + 1)
    ]
    return {"sku": sku, "per_su": per_su, "racks": racks, "planes": draw(st.integers(1, 2))}


def _build(layout: dict[str, Any], design_sus: int = 8) -> Plan:
    return make_plan(
        parse_cluster(
            {
                "name": "grow",
                "site": {"name": "s1"},
                "racks": layout["racks"],
                "fabrics": _fabrics(layout["planes"], design_sus),
            }
        )
    )


def _identity(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """What must never change: each node's state, each NIC (by fabric, plane, rail), each cable."""
    nodes = {}
    for node in plan.nodes:
        state = node_expectation(plan, node).to_json()
        for nic in state.pop("nics"):
            state[f"nic {nic['fabric']} p{nic['plane']} r{nic['rail']}"] = nic
        nodes[node.name] = state
    cables = {c.id: c for fp in plan.fabrics for p in fp.planes for c in fabric_cables(fp, p)}
    return nodes, cables


def _assert_kept(before: Plan, after: Plan) -> None:
    nodes, cables = _identity(before)
    nodes_after, cables_after = _identity(after)
    for name, state in nodes.items():
        assert {k: nodes_after[name].get(k) for k in state} == state, name
    for cable_id, cable in cables.items():
        assert cables_after[cable_id] == cable, cable_id


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(layouts())
def test_same_input_gives_byte_identical_plan(layout: dict[str, Any]) -> None:
    outputs = []
    for _ in range(2):
        plan = _build(layout)
        text, csv = io.StringIO(), io.StringIO()
        write_plan_json(plan, text)
        write_cabling_csv(plan, csv)
        outputs.append((text.getvalue(), csv.getvalue()))
    assert outputs[0] == outputs[1]


@FAST
@given(layouts(), st.data())
def test_adding_racks_to_an_su_changes_nothing_that_existed(
    layout: dict[str, Any], data: st.DataObject
) -> None:
    before = _build(layout)
    grown = dict(layout, racks=[dict(r) for r in layout["racks"]])
    su = data.draw(st.integers(0, len(grown["racks"]) - 1))
    room = layout["per_su"] - grown["racks"][su]["count"]
    if room == 0:
        return
    grown["racks"][su]["count"] += data.draw(st.integers(1, room))
    _assert_kept(before, _build(grown))


@FAST
@given(layouts())
def test_adding_an_su_changes_nothing_that_existed(layout: dict[str, Any]) -> None:
    before = _build(layout)
    su = len(layout["racks"]) + 1
    new = {**layout["racks"][0], "row": su, "su": su}
    _assert_kept(before, _build(dict(layout, racks=[*layout["racks"], new])))


@FAST
@given(layouts())
def test_adding_a_plane_changes_nothing_that_existed(layout: dict[str, Any]) -> None:
    single = dict(layout, planes=1)
    _assert_kept(_build(single), _build(dict(single, planes=2)))


@FAST
@given(layouts())
def test_every_generated_name_is_a_dns_label(layout: dict[str, Any]) -> None:
    plan = _build(layout)
    names = (
        [r.name for r in plan.racks] + [n.name for n in plan.nodes] + [d.name for d in plan.domains]
    )
    names += [t for r in plan.racks for t in r.switch_trays]
    for fp in plan.fabrics:
        for cable in fabric_cables(fp, 1):
            names += [cable.a_device, cable.b_device]
    bad = [n for n in set(names) if not DNS_LABEL.match(n)]
    assert bad == []

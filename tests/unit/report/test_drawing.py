"""The drawings: rack elevations and the hall map, the fabric per plane, the capacity chart.
Each is parsed as XML, so that a drawing that is not well-formed fails here, not in a browser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from bringup.plan import make_plan
from bringup.plan.expectation import node_expectation
from bringup.report.chart import capacity_svg
from bringup.report.elevation import hall_map_svg, row_svg
from bringup.report.fabric import plane_svg, plane_views
from bringup.report.model import CapacityChart, FailingCable, Report
from bringup.spec import load_cluster
from bringup.validation.report import Finding

from .lab_ledger import MADE, NIC, PLAN, QUARANTINED, STACKS, report_of, seed

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = Finding(
    f"gpu:{QUARANTINED}/0", "gpu.ecc", '<script>alert("x")</script>', "0 & nothing", "a\"b'c"
)


def hostile(project: Path) -> Report:
    """The lab's report, a GPU finding of the quarantined node full of markup and quotes."""
    seed(project, gpu=HOSTILE)
    return report_of(project)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_row_draws_one_rack_element_per_rack_with_a_unit_per_node(tmp_path: Path) -> None:
    report = hostile(tmp_path)
    (row,) = report.rows
    svg = parse(row_svg(row))
    racks = svg.findall(f"{SVG}g[@class='rack']")
    assert [r.get("id") for r in racks] == [f"rack-{r.name}" for r in PLAN.racks]
    units = [u for rack in racks for u in rack.iter(f"{SVG}rect") if u.get("data-n") is not None]
    assert [int(u.get("data-n", "")) for u in units] == list(range(len(PLAN.nodes)))
    classes = {report.nodes[int(u.get("data-n", ""))].name: u.get("class") for u in units}
    assert classes[QUARANTINED] == "q"
    assert list(classes.values()).count("p") == len(PLAN.nodes) - 4


def test_an_nvl72_rack_holds_trays_1_to_10_then_its_switch_trays_then_11_to_18(
    tmp_path: Path,
) -> None:
    report = hostile(tmp_path)
    rack = parse(row_svg(report.rows[0])).findall(f"{SVG}g[@class='rack']")[1]
    order = [
        "sw" if "sw" in (u.get("class") or "") else u.get("data-n")
        for u in rack.iter(f"{SVG}rect")
        if u.get("class") not in ("fr", "tor")
    ]
    first = report.racks[1].nodes[0].index
    trays = [str(first + i) for i in range(18)]
    assert order == [*trays[:10], *["sw"] * 9, *trays[10:]]
    tor = next(u for u in rack.iter(f"{SVG}rect") if u.get("class") == "tor")
    assert tor.findtext(f"{SVG}title") == f"oob-{report.racks[1].name}-tor1: out-of-band switch"


def test_a_failing_node_tells_its_finding_in_its_tooltip_escaped(tmp_path: Path) -> None:
    report = hostile(tmp_path)
    text = row_svg(report.rows[0])
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    unit = next(
        u
        for u in parse(text).iter(f"{SVG}rect")
        if u.get("data-n") == str(PLAN.nodes.index(PLAN.node(QUARANTINED)))
    )
    title = unit.findtext(f"{SVG}title") or ""
    assert title.splitlines()[:2] == [
        f"{QUARANTINED}: quarantined",
        f'gpu:{QUARANTINED}/0 gpu.ecc: observed <script>alert("x")</script>, expected 0 & nothing',
    ]


def test_the_hall_map_links_each_rack_to_its_elevation_in_its_worst_colour(
    tmp_path: Path,
) -> None:
    report = hostile(tmp_path)
    links = parse(hall_map_svg(report, 1)).findall(f"{SVG}a")
    assert [a.get("href") for a in links] == [f"#rack-{r.name}" for r in PLAN.racks]
    cells = [a.find(f"{SVG}rect") for a in links]
    assert [c.get("class") for c in cells if c is not None] == ["q", "q", "p"]


def test_the_failing_nics_leaf_is_marked_and_its_node_numbered_under_it(
    tmp_path: Path,
) -> None:
    report = hostile(tmp_path)
    views = {(v.fabric, v.plane): v for v in plane_views(report)}
    assert sorted(views) == [("compute", 1), ("inband", 1), ("oob", 1), ("storage", 1)]
    compute = views["compute", 1]
    assert [c.node for c in compute.cables] == [QUARANTINED]
    svg = parse(compute.svg)
    boxes = {
        g.findtext(f"{SVG}text") or "": g
        for g in svg.findall(f"{SVG}g")
        if "sb" in (g.get("class") or "")
    }
    assert sorted(boxes) == sorted([f"r{i}" for i in range(1, 9)] + [f"s{j}" for j in range(1, 5)])
    assert [label for label, g in boxes.items() if "bad" in (g.get("class") or "")] == ["r2"]
    assert boxes["r2"].findtext(f"{SVG}title") == f"{NIC.leaf}: 32 host ports, 32 uplinks"
    (marker,) = [g for g in svg.findall(f"{SVG}g") if g.get("class") == "nm"]
    assert marker.findtext(f"{SVG}text") == "1"
    assert f"cable {NIC.cable} to {NIC.leaf} port {NIC.leaf_port}" in (
        marker.findtext(f"{SVG}title") or ""
    )
    assert views["oob", 1].svg == ""
    assert "3 out-of-band ToRs" in views["oob", 1].lines[1]


def test_a_big_plane_is_drawn_in_groups_and_a_failing_cable_marks_its_pods_leaves() -> None:
    plan = make_plan(load_cluster(STACKS / "Pulumi.gb300-100k.yaml"))
    compute = plan.fabric("compute")
    tree = compute.tree
    assert tree is not None
    assert (tree.tiers, len(compute.built_sus), len(compute.built_pods())) == (3, 174, 20)
    node = next(n for n in plan.nodes if n.su == 12)
    nic = next(
        n for n in node_expectation(plan, node).nics if n.fabric == "compute" and n.rail == 3
    )
    cable = FailingCable(
        node.name, f"nic:{node.name}/rail3", "nic.state", "Down", "Active", nic.device,
        nic.cable, nic.leaf, str(nic.leaf_port), "compute", 1, 3,
    )  # fmt: skip
    svg = parse(plane_svg(compute, 1, [cable]))
    boxes = [g for g in svg.findall(f"{SVG}g") if "sb" in (g.get("class") or "")]
    labels = [g.findtext(f"{SVG}text") or "" for g in boxes]
    assert labels[:3] == ["c1", "c2", "c3"]  # core groups, then pods, then leaves per pod
    assert sum(1 for t in labels if t.startswith("c")) == tree.spines == 72
    assert sum(1 for t in labels if t.startswith("pod")) == 20
    assert labels[-20:][:2] == ["su1-9", "su10-18"]  # a pod holds 72 leaves: 9 SUs of 8
    (bad,) = [g for g in boxes if "bad" in (g.get("class") or "")]
    assert bad.findtext(f"{SVG}text") == "su10-18"
    assert (bad.findtext(f"{SVG}title") or "").startswith("pod 2's leaves: SUs 10-18")
    assert len([p for p in svg.findall(f"{SVG}path") if p.get("class") == "ln"]) == 2


def test_the_capacity_chart_draws_a_step_line_per_sku_with_gpus(tmp_path: Path) -> None:
    report = hostile(tmp_path)
    svg = parse(capacity_svg(report.capacity))
    lines = [p for p in svg.findall(f"{SVG}path") if "cl" in (p.get("class") or "")]
    assert [p.findtext(f"{SVG}title") for p in lines] == [
        "gb200-nvl72: 0 GPUs admitted now",  # its admitted tray failed in service
        "hgx-h100: 8 GPUs admitted now",
    ]
    assert capacity_svg(CapacityChart((), ((MADE, ()),), sampled=False)) == ""  # CPUs only

"""The fabric of each plane as SVG: leaves, spines and core, with their link counts, and the
cables of failing NICs from the node through its leaf port.

A plane of a 100k-GPU cluster has over a thousand leaves and a hundred thousand cables, which no
drawing shows one by one. So a tier is drawn switch by switch while it is small (`_SINGLE`
switches or fewer) and in groups otherwise: leaves per SU, spines per pod (three tiers), core
switches per core group. One line joins two boxes that have links between them; how many links
each line stands for is said on the boxes' tooltips and in the tier's caption. A failing NIC's
node is a numbered marker under its leaf (or its leaf's SU), joined to it in red; the number is
its row in the table of failing cables beside the drawing.

Out-of-band fabrics are not trees (each rack has its own ToRs, drawn in the rack elevations):
they get their counts and no drawing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import drawsvg as draw  # type: ignore[import-untyped]

from bringup.plan.cabling import cable_counts
from bringup.plan.fabric import FabricPlan
from bringup.plan.tree import Tree
from bringup.report.model import FailingCable, Report
from bringup.report.svg import attr, inline_svg

_SINGLE = 64  # tiers of up to this many switches are drawn one box per switch
BOX_HEIGHT = 20
GAP = 4
LEFT = 96  # the tier names
TIER_STEP = 70
MARKER = 12


@dataclass(frozen=True)
class PlaneView:
    """One plane of one fabric: what to say of it, its drawing, its failing cables."""

    fabric: str
    plane: int
    lines: tuple[str, ...]
    """Its counts, one fact a line."""
    svg: str
    """The drawing; empty for an out-of-band fabric."""
    cables: tuple[FailingCable, ...]
    """The failing cables of this plane, numbered in the drawing from 1 in this order."""


@dataclass
class _Box:
    label: str
    title: str
    x: float = 0
    y: float = 0
    width: float = 0
    bad: bool = False

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


def plane_views(report: Report) -> list[PlaneView]:
    """Every plane of every fabric, fabrics in the plan's order."""
    views = []
    for fp in report.fabrics:
        for plane in fp.planes:
            cables = tuple(
                c for c in report.failing_cables if c.fabric == fp.name and c.plane == plane
            )
            views.append(
                PlaneView(fp.name, plane, _lines(fp), plane_svg(fp, plane, cables), cables)
            )
    return views


def _lines(fp: FabricPlan) -> tuple[str, ...]:
    counts = cable_counts(fp)
    head = (
        f"{fp.spec.kind.value}, {fp.spec.role.value}: {fp.switch.id} at {fp.spec.speed_gbps} "
        f"Gb/s (radix {fp.mode.ports}), {fp.rails} rail(s), SUs "
        f"{', '.join(str(su) for su in fp.built_sus)}"
    )
    tree = fp.tree
    if tree is None:
        return (
            head,
            f"{fp.leaves():,} out-of-band ToRs, in the racks; {counts['node-leaf']:,} BMC cables",
        )
    lines = [
        head + f", {tree.tiers} tiers, oversubscription {tree.oversubscription}",
        f"node-leaf: {counts['node-leaf']:,} cables ({tree.down} host ports per leaf)",
        f"leaf-spine: {counts['leaf-spine']:,} cables ({tree.up} uplinks per leaf) between "
        f"{fp.leaves():,} leaves and {fp.spines():,} spines",
    ]
    if tree.tiers == 3:
        lines.append(
            f"spine-core: {counts['spine-core']:,} cables ({tree.radix // 2} uplinks per spine) "
            f"to {fp.core():,} core switches in {tree.spines} groups of {tree.core_group}"
        )
    return tuple(lines)


def plane_svg(fp: FabricPlan, plane: int, cables: Sequence[FailingCable]) -> str:
    """One plane of a tree fabric as an inline SVG element; empty for an out-of-band fabric."""
    tree = fp.tree
    if tree is None:
        return ""
    leaves, leaf_of = _leaf_boxes(fp, tree, plane)
    spines = _spine_boxes(fp, tree, plane)
    core = _core_boxes(fp, tree, plane)
    tiers = [t for t in (core, spines, leaves) if t]
    width = LEFT + max(len(t) * (t[0].width + GAP) for t in tiers) + GAP
    for level, tier in enumerate(tiers):
        _place(tier, level * TIER_STEP + 16, width)
    links = _links(fp, tree, leaves, spines, core)
    for cable in cables:
        found = leaf_of.get(_leaf_key(fp, tree, cable))
        if found is not None:
            found.bad = True
    names = ("core", "spine", "leaf") if core else ("spine", "leaf")
    height = len(tiers) * TIER_STEP + (MARKER + 30 if cables else 0)
    drawing = draw.Drawing(
        width,
        height,
        class_="fab",
        role="img",
        aria_label=attr(f"{fp.name} plane {plane}"),
    )
    for name, tier in zip(names, tiers, strict=True):
        drawing.append(draw.Text(name, 11, 4, tier[0].y + 14, class_="tl"))
    for cls, path in links:
        if path:
            drawing.append(draw.Path(d=path, class_=cls))
    for tier in tiers:
        for box in tier:
            drawing.append(_box(box))
    _markers(drawing, fp, tree, cables, leaf_of, leaves[0].y + BOX_HEIGHT)
    return inline_svg(drawing)


def _leaf_boxes(fp: FabricPlan, tree: Tree, plane: int) -> tuple[list[_Box], dict[object, _Box]]:
    """The leaf tier, and each box by its key: a leaf's name, or an SU's number."""
    by_key: dict[object, _Box] = {}
    boxes: list[_Box] = []
    single = fp.leaves() <= _SINGLE
    hosts: Counter[int] = Counter()
    for e in fp.endpoints:
        hosts[e.su] += e.ports
    for su in fp.built_sus:
        if not single:
            box = _Box(
                f"su{su}",
                f"SU {su}: {tree.leaves_per_su} leaves ({tree.rails} rails x "
                f"{tree.leaves_per_rail}), {hosts[su]:,} host cables, "
                f"{tree.leaves_per_su * tree.up:,} uplinks",
                width=30,
            )
            by_key[su] = box
            boxes.append(box)
            continue
        for rail in range(1, tree.rails + 1):
            for i in range(1, tree.leaves_per_rail + 1):
                name = fp.leaf_name(plane, su, rail, i)
                label = f"r{rail}" if tree.leaves_per_rail == 1 else f"r{rail}.{i}"
                box = _Box(
                    label,
                    f"{name}: {tree.down} host ports, {tree.up} uplinks",
                    width=30,
                )
                by_key[name] = box
                boxes.append(box)
    return boxes, by_key


def _spine_boxes(fp: FabricPlan, tree: Tree, plane: int) -> list[_Box]:
    if tree.tiers == 3:
        return [
            _Box(
                f"pod{pod + 1}",
                f"pod {pod + 1}: {tree.pod_spines(pod)} spines "
                f"({fp.spine_name(plane, pod, 0)} ...), {tree.radix // 2} uplinks each",
                width=40,
            )
            for pod in fp.built_pods()
        ]
    if fp.spines() <= _SINGLE:
        m = tree.up // tree.spines
        return [
            _Box(f"s{j + 1}", f"{fp.spine_name(plane, 0, j)}: {m} link(s) from each leaf", width=30)
            for j in range(fp.spines())
        ]
    return [_Box(f"{fp.spines()} spines", f"{fp.spines()} spines, every leaf to each", width=90)]


def _core_boxes(fp: FabricPlan, tree: Tree, plane: int) -> list[_Box]:
    if tree.tiers != 3:
        return []
    g = tree.core_group
    return [
        _Box(
            f"c{j + 1}",
            f"core group {j + 1}: {g} switches ({fp.core_name(plane, j, 0)} ...), "
            f"spine {j + 1} of every pod to each",
            width=24,
        )
        for j in range(tree.spines)
    ]


def _place(tier: list[_Box], y: float, width: float) -> None:
    """Centre a tier's boxes in the drawing, at height `y`."""
    span = len(tier) * (tier[0].width + GAP) - GAP
    x = LEFT + (width - LEFT - span) / 2
    for box in tier:
        box.x, box.y = x, y
        x += box.width + GAP


def _links(
    fp: FabricPlan, tree: Tree, leaves: list[_Box], spines: list[_Box], core: list[_Box]
) -> list[tuple[str, str]]:
    """One path per tier of links, as (class, d)."""
    up: list[str] = []
    if tree.tiers == 3:
        pods = fp.built_pods()
        for box, pod_range in zip(leaves, _leaf_pods(fp, tree), strict=True):
            for pod in pod_range:
                up.append(_line(box, spines[pods.index(pod)]))
        top = [
            _line(spine, core[j])
            for spine, pod in zip(spines, pods, strict=True)
            for j in range(tree.pod_spines(pod))
        ]
        return [("ln", "".join(up)), ("ln", "".join(top))]
    for box in leaves:
        for spine in spines:
            up.append(_line(box, spine))
    return [("ln", "".join(up))]


def _leaf_pods(fp: FabricPlan, tree: Tree) -> list[range]:
    """For each leaf box in order (a leaf, or an SU), the pods its leaves uplink to."""
    single = fp.leaves() <= _SINGLE
    out = []
    for su in fp.built_sus:
        first = tree.leaf_index(su, 1, 1)
        if single:
            out += [range(g // tree.pod_leaves, g // tree.pod_leaves + 1)
                    for g in range(first, first + tree.leaves_per_su)]  # fmt: skip
        else:
            last = first + tree.leaves_per_su - 1
            out.append(range(first // tree.pod_leaves, last // tree.pod_leaves + 1))
    return out


def _line(lower: _Box, upper: _Box) -> str:
    return f"M{lower.centre:g} {lower.y:g}L{upper.centre:g} {upper.y + BOX_HEIGHT:g}"


def _box(box: _Box) -> draw.Group:
    group = draw.Group(class_="sb bad" if box.bad else "sb")
    group.append(draw.Rectangle(box.x, box.y, box.width, BOX_HEIGHT))
    group.append(draw.Text(box.label, 9, box.centre, box.y + 13))
    group.append_title(box.title)
    return group


def _leaf_key(fp: FabricPlan, tree: Tree, cable: FailingCable) -> object:
    """The leaf box a failing cable ends on: its leaf, or its node's SU."""
    if fp.leaves() <= _SINGLE:
        return cable.leaf
    return fp.by_name[cable.node].su


def _markers(
    drawing: draw.Drawing,
    fp: FabricPlan,
    tree: Tree,
    cables: Sequence[FailingCable],
    leaf_of: dict[object, _Box],
    top: float,
) -> None:
    """A numbered node marker under the leaf of each failing cable, joined to it in red."""
    stacked: dict[int, int] = {}
    for number, cable in enumerate(cables, start=1):
        leaf = leaf_of.get(_leaf_key(fp, tree, cable))
        if leaf is None:  # a cable of this plane the drawing has no leaf for: the table has it
            continue
        k = stacked.get(id(leaf), 0)
        stacked[id(leaf)] = k + 1
        x = leaf.centre - MARKER / 2 + k * (MARKER + 2)
        y = top + 22
        drawing.append(
            draw.Path(d=f"M{x + MARKER / 2:g} {y:g}L{leaf.centre:g} {top:g}", class_="bad")
        )
        marker = draw.Group(class_="nm")
        marker.append(draw.Rectangle(x, y, MARKER, MARKER))
        marker.append(draw.Text(str(number), 8, x + MARKER / 2, y + 9))
        marker.append_title(
            f"{number}. {cable.node} {cable.device} ({cable.component}): cable {cable.cable} "
            f"to {cable.leaf} port {cable.leaf_port}; {cable.check}: observed {cable.observed}, "
            f"expected {cable.expected}"
        )
        drawing.append(marker)

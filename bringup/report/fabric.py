"""The fabric of each plane as SVG: leaves, spines and core, with their link counts, and the
cables of failing NICs from the node through its leaf port.

A plane of a 100k-GPU cluster has over a thousand leaves and a hundred thousand cables, which no
drawing shows one by one. So a tier is drawn switch by switch while it is small (`_SINGLE`
switches or fewer) and in groups otherwise: leaves per SU (per pod when the SUs are many too),
spines per pod (three tiers), core switches per core group. One line joins two boxes that have
links between them; how many links each line stands for is said on the boxes' tooltips and in
the tier's caption. A failing NIC's node is a numbered marker under its leaf's box, joined to it
in red; the number is its row in the table of failing cables under the drawing.

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
MARKER = 14


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
    pods: range = range(0)
    """Three tiers: the pods whose spines its leaves uplink to."""
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
        f"Gb/s (radix {fp.mode.ports}), {fp.rails} rail(s), SUs {_ranges(fp.built_sus)}"
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
    leaves = _leaf_tier(fp, tree, plane)
    spines = _spine_boxes(fp, tree, plane)
    core = _core_boxes(fp, tree, plane)
    tiers = [t for t in (core, spines, leaves.boxes) if t]
    width = LEFT + max(len(t) * (t[0].width + GAP) for t in tiers) + GAP
    for level, tier in enumerate(tiers):
        _place(tier, level * TIER_STEP + 16, width)
    marked = [(c, leaves.of(c)) for c in cables]
    for _, box in marked:
        box.bad = True
    names = ("core", "spine", "leaf") if core else ("spine", "leaf")
    top = leaves.boxes[0].y + BOX_HEIGHT
    markers, bottom = _markers(marked, top)
    height = max(len(tiers) * TIER_STEP, bottom + 8)
    drawing = draw.Drawing(
        width,
        height,
        class_="fab",
        role="img",
        aria_label=attr(f"{fp.name} plane {plane}"),
    )
    for name, tier in zip(names, tiers, strict=True):
        drawing.append(draw.Text(name, 11, 4, tier[0].y + 14, class_="tl"))
    for path in _links(fp, tree, leaves.boxes, spines, core):
        if path:
            drawing.append(draw.Path(d=path, class_="ln"))
    for tier in tiers:
        for box in tier:
            drawing.append(_box(box))
    for element in markers:
        drawing.append(element)
    return inline_svg(drawing)


@dataclass
class _LeafTier:
    """The leaf tier's boxes: one per leaf, per SU, or per pod's leaves (`by`)."""

    by: str
    boxes: list[_Box]
    keyed: dict[object, _Box]
    fp: FabricPlan
    tree: Tree

    def of(self, cable: FailingCable) -> _Box:
        """The box of the leaf a failing cable of this plane ends on."""
        if self.by == "leaf":
            return self.keyed[cable.leaf]
        e = self.fp.by_name[cable.node]
        if self.by == "su":
            return self.keyed[e.su]
        leaf = (e.slot - 1) // self.tree.down + 1
        return self.keyed[self.tree.leaf_index(e.su, cable.rail, leaf) // self.tree.pod_leaves]


def _leaf_tier(fp: FabricPlan, tree: Tree, plane: int) -> _LeafTier:
    """A box per leaf while there are few; per SU while SUs are few; else (three tiers: a
    100k-GPU plane of 174 SUs) per pod's leaves, one box above the other tiers' width."""
    hosts: Counter[int] = Counter()
    for e in fp.endpoints:
        hosts[e.su] += e.ports
    keyed: dict[object, _Box] = {}
    if fp.leaves() <= _SINGLE:
        for su in fp.built_sus:
            for rail in range(1, tree.rails + 1):
                for i in range(1, tree.leaves_per_rail + 1):
                    name = fp.leaf_name(plane, su, rail, i)
                    g = tree.leaf_index(su, rail, i)
                    label = f"r{rail}" if tree.leaves_per_rail == 1 else f"r{rail}.{i}"
                    title = f"{name}: {tree.down} host ports, {tree.up} uplinks"
                    keyed[name] = _Box(label, title, width=30, pods=_pods_of(tree, g, g))
        return _LeafTier("leaf", list(keyed.values()), keyed, fp, tree)
    if len(fp.built_sus) <= _SINGLE or tree.tiers != 3:
        for su in fp.built_sus:
            first = tree.leaf_index(su, 1, 1)
            keyed[su] = _Box(
                f"su{su}",
                f"SU {su}: {tree.leaves_per_su} leaves ({tree.rails} rails x "
                f"{tree.leaves_per_rail}), {hosts[su]:,} host cables, "
                f"{tree.leaves_per_su * tree.up:,} uplinks",
                width=30,
                pods=_pods_of(tree, first, first + tree.leaves_per_su - 1),
            )
        return _LeafTier("su", list(keyed.values()), keyed, fp, tree)
    spans = {
        su: _pods_of(
            tree, tree.leaf_index(su, 1, 1), tree.leaf_index(su, 1, 1) + tree.leaves_per_su - 1
        )
        for su in fp.built_sus
    }
    for pod in fp.built_pods():
        sus = [su for su in fp.built_sus if pod in spans[su]]
        keyed[pod] = _Box(
            f"su{sus[0]}-{sus[-1]}" if len(sus) > 1 else f"su{sus[0]}",
            f"pod {pod + 1}'s leaves: SUs {_ranges(sus)}, up to {tree.pod_leaves} leaves, "
            f"{sum(hosts[su] for su in sus):,} host cables",
            width=52,
            pods=range(pod, pod + 1),
        )
    return _LeafTier("pod", list(keyed.values()), keyed, fp, tree)


def _pods_of(tree: Tree, first: int, last: int) -> range:
    """The pods of leaves `first` to `last` (global indexes); none under two tiers."""
    if tree.tiers != 3:
        return range(0)
    return range(first // tree.pod_leaves, last // tree.pod_leaves + 1)


def _ranges(numbers: Sequence[int]) -> str:
    """``1-9, 12``: sorted numbers as runs."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


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
            width=20,
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
) -> list[str]:
    """One path of lines per tier of links."""
    if tree.tiers == 3:
        pods = fp.built_pods()
        up = [_line(box, spines[pods.index(pod)]) for box in leaves for pod in box.pods]
        top = [
            _line(spine, core[j])
            for spine, pod in zip(spines, pods, strict=True)
            for j in range(tree.pod_spines(pod))
        ]
        return ["".join(up), "".join(top)]
    return ["".join(_line(box, spine) for box in leaves for spine in spines)]


def _line(lower: _Box, upper: _Box) -> str:
    return f"M{lower.centre:g} {lower.y:g}L{upper.centre:g} {upper.y + BOX_HEIGHT:g}"


def _box(box: _Box) -> draw.Group:
    group = draw.Group(class_="sb bad" if box.bad else "sb")
    group.append(draw.Rectangle(box.x, box.y, box.width, BOX_HEIGHT))
    group.append(draw.Text(box.label, 9, box.centre, box.y + 13))
    group.append_title(box.title)
    return group


def _markers(
    marked: Sequence[tuple[FailingCable, _Box]], top: float
) -> tuple[list[draw.Group], float]:
    """A numbered node marker under the leaf box of each failing cable, joined to it in red
    (markers under one box fill rows of its width); the markers and their lowest edge."""
    out = []
    bottom = top
    count: dict[int, int] = {}
    for number, (cable, leaf) in enumerate(marked, start=1):
        k = count.get(id(leaf), 0)
        count[id(leaf)] = k + 1
        per_row = max(1, int((leaf.width + GAP) // (MARKER + 2)))
        x = leaf.x + (k % per_row) * (MARKER + 2)
        y = top + 20 + (k // per_row) * (MARKER + 4)
        marker = draw.Group(class_="nm")
        marker.append(
            draw.Path(d=f"M{x + MARKER / 2:g} {y:g}L{leaf.centre:g} {top:g}", class_="bad")
        )
        marker.append(draw.Rectangle(x, y, MARKER, MARKER))
        marker.append(draw.Text(str(number), 7, x + MARKER / 2, y + 10))
        marker.append_title(
            f"{number}. {cable.node} {cable.device} ({cable.component}): cable {cable.cable} "
            f"to {cable.leaf} port {cable.leaf_port}; {cable.check}: observed {cable.observed}, "
            f"expected {cable.expected}"
        )
        out.append(marker)
        bottom = max(bottom, y + MARKER)
    return out, bottom

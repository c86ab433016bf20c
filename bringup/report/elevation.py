"""Rack elevations and the hall map, as SVG drawn with drawsvg.

A row of racks is one SVG: each rack a group (``<g class="rack" id="rack-<name>">``) holding
its out-of-band ToRs at the top, then its nodes in slot order; an NVL72 rack holds compute trays
1-10, its NVLink switch trays, then trays 11-18, as NVIDIA builds it. Heights are schematic: a
tray or switch is one thin unit, an HGX node a tall one, a CPU node a short one.

A hall of 1,392 racks draws 25,000 trays, so the SVG stays lean: a unit's state is a one-letter
class (`model.STATE_CLASS`) that the page's CSS colours, and the node behind a unit is its index
in the page's data (``data-n``), which the page's script shows on hover and click. Only a unit
with something wrong carries its own ``<title>`` (a tooltip without the script).

drawsvg escapes text, not attribute values: every value put in an attribute goes through
`svg.attr`.
"""

from __future__ import annotations

from collections.abc import Sequence

import drawsvg as draw  # type: ignore[import-untyped]

from bringup.report.model import (
    SHOWN_STATES,
    STATE_CLASS,
    Finding,
    NodeView,
    RackView,
    Report,
    Row,
)
from bringup.report.svg import Link, attr, inline_svg

RACK_WIDTH = 46
RACK_GAP = 10
UNIT_INSET = 3
TOR_HEIGHT = 4
SWITCH_HEIGHT = 5
TRAY_HEIGHT = 6
GPU_NODE_HEIGHT = 24
CPU_NODE_HEIGHT = 7
LABEL_HEIGHT = 14
TRAYS_ABOVE_SWITCHES = 10  # an NVL72 rack: compute trays 1-10, the switch trays, trays 11-18
CELL = 11  # the hall map: one rack


def rack_id(name: str) -> str:
    """The element id of a rack's elevation, which the hall map and the tables link to."""
    return f"rack-{name}"


def _unit_height(view: NodeView) -> int:
    if view.node.kind == "tray":
        return TRAY_HEIGHT
    return GPU_NODE_HEIGHT if view.gpus else CPU_NODE_HEIGHT


def _stack(rack: RackView) -> list[NodeView | str]:
    """The rack's units top to bottom: switch trays by name, nodes as their views."""
    nodes: list[NodeView | str] = list(rack.nodes)
    if not rack.rack.switch_trays:
        return nodes
    above = min(TRAYS_ABOVE_SWITCHES, len(nodes))
    return [*nodes[:above], *rack.rack.switch_trays, *nodes[above:]]


def rack_height(rack: RackView) -> int:
    """The drawn height of a rack, frame included."""
    inner = sum(TOR_HEIGHT + 1 for _ in rack.tors) + (2 if rack.tors else 0)
    for unit in _stack(rack):
        inner += (SWITCH_HEIGHT if isinstance(unit, str) else _unit_height(unit)) + 1
    return inner + 2 * UNIT_INSET - 1


def finding_text(f: Finding) -> str:
    """One finding in a line: ``gpu:n1/3 gpu.xid: observed Xid 79, expected no Xid``."""
    return f"{f.component} {f.check}: observed {f.observed}, expected {f.expected}"


def node_title(view: NodeView) -> str:
    """The tooltip of a node with something wrong: name, state, what fails, its incident."""
    lines = [f"{view.name}: {view.state}"]
    lines += [finding_text(f) for f in view.failing[:5]]
    if len(view.failing) > 5:
        lines.append(f"and {len(view.failing) - 5} more findings")
    if view.incident is not None:
        lines.append(f"incident {view.incident.id} ({view.incident.status})")
    return "\n".join(lines)


def _rack_group(rack: RackView, x: int, height: int) -> draw.Group:
    group = draw.Group(class_="rack", id=attr(rack_id(rack.name)), transform=f"translate({x},0)")
    group.append(draw.Rectangle(0, 0, RACK_WIDTH, height, class_="fr"))
    group.append_title(f"{rack.name} ({rack.rack.sku})")
    width = RACK_WIDTH - 2 * UNIT_INSET
    y = UNIT_INSET
    for tor in rack.tors:
        unit = draw.Rectangle(UNIT_INSET, y, width, TOR_HEIGHT, class_="tor")
        unit.append_title(f"{tor}: out-of-band switch")
        group.append(unit)
        y += TOR_HEIGHT + 1
    y += 2 if rack.tors else 0
    domain = rack.domain_incident
    for item in _stack(rack):
        if isinstance(item, str):
            cls = "sw q" if domain is not None else "sw"
            unit = draw.Rectangle(UNIT_INSET, y, width, SWITCH_HEIGHT, class_=cls)
            if domain is not None:
                unit.append_title(
                    f"{item}: NVLink domain {domain.domain} at fault "
                    f"(incident {domain.id}, {domain.status})"
                )
            group.append(unit)
            y += SWITCH_HEIGHT + 1
            continue
        h = _unit_height(item)
        unit = draw.Rectangle(
            UNIT_INSET, y, width, h, class_=STATE_CLASS[item.state], data_n=item.index
        )
        if item.failing or item.incident is not None:
            unit.append_title(node_title(item))
        group.append(unit)
        if h >= GPU_NODE_HEIGHT:  # room for its slot
            group.append(
                draw.Text(f"n{item.node.slot}", 9, RACK_WIDTH / 2, y + h / 2 + 3, class_="ul")
            )
        y += h + 1
    label = f"k{rack.rack.position.rack:02d}"
    group.append(draw.Text(label, 9, RACK_WIDTH / 2, height + LABEL_HEIGHT - 3, class_="rl"))
    return group


def row_svg(row: Row) -> str:
    """One row's racks side by side, as an inline SVG element."""
    height = max(rack_height(r) for r in row.racks)
    width = len(row.racks) * (RACK_WIDTH + RACK_GAP) - RACK_GAP + 2
    drawing = draw.Drawing(
        width,
        height + LABEL_HEIGHT,
        class_="row",
        role="img",
        aria_label=attr(f"hall {row.hall} row {row.row}: {len(row.racks)} racks"),
    )
    for i, rack in enumerate(row.racks):
        drawing.append(_rack_group(rack, 1 + i * (RACK_WIDTH + RACK_GAP), height))
    return inline_svg(drawing)


def hall_map_svg(report: Report, hall: int) -> str:
    """A hall at a glance: one cell per rack in its row, in its worst node's colour, linking to
    its elevation."""
    rows = [r for r in report.rows if r.hall == hall]
    columns = max(len(r.racks) for r in rows)
    left = 30
    drawing = draw.Drawing(
        left + columns * (CELL + 2),
        len(rows) * (CELL + 2) + 2,
        class_="map",
        role="img",
        aria_label=attr(f"hall {hall}: {sum(len(r.racks) for r in rows)} racks"),
    )
    for i, row in enumerate(rows):
        y = 1 + i * (CELL + 2)
        drawing.append(draw.Text(f"r{row.row:02d}", 9, left - 4, y + CELL - 2, class_="ml"))
        for j, rack in enumerate(row.racks):
            link = Link(f"#{rack_id(rack.name)}")
            cell = draw.Rectangle(
                left + j * (CELL + 2), y, CELL, CELL, class_=STATE_CLASS[rack.worst]
            )
            cell.append_title(f"{rack.name} ({rack.rack.sku}): {_counts(rack.nodes)}")
            link.append(cell)
            drawing.append(link)
    return inline_svg(drawing)


def _counts(nodes: Sequence[NodeView]) -> str:
    states = [n.state for n in nodes]
    return ", ".join(f"{states.count(s)} {s}" for s in SHOWN_STATES if s in states)

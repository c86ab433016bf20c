"""What the report shows, gathered from the plan and the ledger as plain data.

`build_report` is a pure function: the plan, what was read of the ledger (`LedgerRead`), of the
scheduler (`SchedulerRead`) and of the drills, and the time, in; one `Report` out. Everything
the drawing and the page need is here already decided: each node's shown state, its findings
and open incident, the racks in hall and row order, the cables of failing NICs resolved in the
plan, capacity over time. The drawing modules only place it.

A node is shown in one of five states: admitted, quarantined, unreachable, repaired (repaired or
revalidated, on its way back) and pending (no verdict yet: no state in the ledger, or
provisioned, burn-in, validating).

>>> shown_state("revalidated"), shown_state(None)
('repaired', 'pending')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bringup.admit.ledger import UNCLOSED, Incident, NodeStatus, Run
from bringup.catalog import load_catalog
from bringup.plan import Node, Plan, RackPlan
from bringup.plan.fabric import FabricPlan
from bringup.plan.model import Position
from bringup.scheduler.adapter import SchedulerNode

SHOWN_STATES: tuple[str, ...] = ("admitted", "quarantined", "unreachable", "repaired", "pending")
"""The states a node is shown in, in the order of the summary's columns."""

STATE_CLASS: Mapping[str, str] = {
    "admitted": "a",
    "quarantined": "q",
    "unreachable": "u",
    "repaired": "r",
    "pending": "p",
}
"""Each shown state's CSS class: one letter, since a 100k-GPU hall draws 25,000 of them."""

SEVERITY: tuple[str, ...] = ("quarantined", "unreachable", "repaired", "pending", "admitted")
"""Worst first: a rack of the hall map takes the colour of its worst node."""

_SHOWN = {
    "admitted": "admitted",
    "quarantined": "quarantined",
    "unreachable": "unreachable",
    "repaired": "repaired",
    "revalidated": "repaired",
}
_CAPACITY_POINTS = 400  # a chart wider than a screen shows no more than this
_FAILING = ("quarantined", "unreachable")


class Finding(Protocol):
    """What the report reads of a finding: `bringup.validation.report.Finding`, as the ledger
    gives it in node states and incidents."""

    @property
    def component(self) -> str: ...
    @property
    def check(self) -> str: ...
    @property
    def observed(self) -> str: ...
    @property
    def expected(self) -> str: ...
    @property
    def evidence(self) -> str: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...


History = Sequence[tuple[datetime, str, str | None, str]]
"""A node's state changes as `Ledger.history` gives them: (at, state, run id, reason)."""


def shown_state(state: str | None) -> str:
    """The state a node is shown in, for its state in the ledger (None: never seen)."""
    return _SHOWN.get(state or "", "pending")


@dataclass(frozen=True)
class LedgerRead:
    """What the report reads of the ledger for one stack."""

    location: str
    """Where the ledger is (a path, or a URL without its password)."""
    statuses: Sequence[NodeStatus]
    histories: Mapping[str, History]
    """Each node's state changes, for the nodes the ledger has seen."""
    incidents: Sequence[Incident]
    """Every incident of the stack, newest first (`Ledger.incidents`)."""
    runs: Sequence[Run] = ()


@dataclass(frozen=True)
class SchedulerRead:
    """What the scheduler said of the nodes, or why it was not read."""

    name: str
    """The adapter's name (slurm, none)."""
    nodes: Mapping[str, SchedulerNode] = field(default_factory=dict)
    error: str = ""
    """Why the scheduler could not be read; empty when it was (or when there is none)."""

    @property
    def read(self) -> bool:
        """Whether a scheduler was read: one is declared and it answered."""
        return self.name != "none" and not self.error

    def describe(self, node: str) -> str:
        """One node as the scheduler sees it: ``drained: bringup: …``; empty when unread."""
        if not self.read:
            return ""
        found = self.nodes.get(node)
        if found is None:
            return "not in the scheduler"
        return f"{found.state}: {found.reason}" if found.held and found.reason else found.state


@dataclass(frozen=True)
class Drill:
    """One kept drill summary, as `bringup lab drill` printed it."""

    name: str
    """Its file's name without .json: `<time>-<fault>`."""
    fault: str
    node: str
    component: str
    check: str
    incident: int | None
    seconds_fault_to_drain: float | None
    seconds_fault_to_running: float | None
    steps_redone: int | None
    job_completed: bool


@dataclass(frozen=True)
class NodeView:
    """One node or tray as the report draws it."""

    index: int
    """Its place in `Report.nodes` (and in the page's data)."""
    node: Node
    gpus: int
    state: str
    """Its shown state (one of SHOWN_STATES)."""
    ledger_state: str
    """Its state in the ledger; empty when the ledger has never seen it."""
    since: datetime | None
    reason: str
    findings: tuple[Finding, ...]
    """The findings of its latest verdict."""
    incident: Incident | None
    """Its incident not yet closed (open, or held by the circuit breaker), if any."""
    scheduler: str
    """How the scheduler sees it; empty when the scheduler was not read."""

    @property
    def name(self) -> str:
        """The node's name."""
        return self.node.name

    @property
    def failing(self) -> tuple[Finding, ...]:
        """What fails on it now: its open incident's findings, else the findings of a verdict
        that keeps it out (quarantined, unreachable)."""
        if self.incident is not None:
            return self.incident.findings
        return self.findings if self.ledger_state in _FAILING else ()


@dataclass(frozen=True)
class RackView:
    """One rack: its nodes in slot order, its NVLink switch trays and out-of-band ToRs."""

    rack: RackPlan
    nodes: tuple[NodeView, ...]
    tors: tuple[str, ...]
    domain_incident: Incident | None
    """An unclosed incident that names the rack's NVLink domain as the part at fault."""

    @property
    def name(self) -> str:
        """The rack's name."""
        return self.rack.name

    @property
    def worst(self) -> str:
        """The worst shown state of its nodes (SEVERITY)."""
        states = {n.state for n in self.nodes}
        return next((s for s in SEVERITY if s in states), "pending")


@dataclass(frozen=True)
class Row:
    """One row of racks in a hall, in rack order."""

    hall: int
    row: int
    racks: tuple[RackView, ...]


@dataclass(frozen=True)
class FailingCable:
    """The cable of a failing NIC port, from the node through its leaf port."""

    node: str
    component: str
    check: str
    observed: str
    expected: str
    device: str
    cable: str
    """The cable's id, as the finding names it."""
    leaf: str
    """Its leaf and the leaf's port, as the plan has them (as the finding says when the plan has
    no such cable)."""
    leaf_port: str
    fabric: str
    """The fabric, plane and rail of the cable in the plan; empty fabric when the plan has no
    cable of that id (a finding of an older plan)."""
    plane: int
    rail: int


@dataclass(frozen=True)
class CapacityChart:
    """Admitted GPUs per SKU over time, from the ledger's state history."""

    skus: tuple[str, ...]
    points: tuple[tuple[datetime, tuple[int, ...]], ...]
    """(time, admitted GPUs of each SKU) after each change, oldest first, at most
    `_CAPACITY_POINTS` of them; the last is the report's time (or the latest change, when the
    ledger's writer has a clock ahead of ours)."""
    sampled: bool
    """Whether there were more changes than points (the chart then shows the value at evenly
    spaced times, and a dip shorter than their spacing may not show)."""


@dataclass(frozen=True)
class Tally:
    """Nodes and GPUs of one SKU in each shown state."""

    sku: str
    nodes: Mapping[str, int]
    gpus: Mapping[str, int]

    @property
    def planned_nodes(self) -> int:
        """Nodes of the SKU in the plan."""
        return sum(self.nodes.values())

    @property
    def planned_gpus(self) -> int:
        """GPUs of the SKU in the plan."""
        return sum(self.gpus.values())


@dataclass(frozen=True)
class Report:
    """Everything the page shows, decided; the drawing only places it."""

    stack: str
    cluster: str
    site: str
    made_at: datetime
    sources: tuple[tuple[str, str], ...]
    """What it was made from, as (what, where) lines: the declaration, the plan, the ledger,
    the drills (the scheduler is `scheduler`)."""
    nodes: tuple[NodeView, ...]
    rows: tuple[Row, ...]
    tallies: tuple[Tally, ...]
    capacity: CapacityChart
    incidents: tuple[Incident, ...]
    failing_cables: tuple[FailingCable, ...]
    fabrics: tuple[FabricPlan, ...]
    drills: tuple[Drill, ...]
    runs: tuple[Run, ...]
    scheduler: SchedulerRead
    evidence_root: Path
    """The folder that incidents' evidence paths are relative to (the project's)."""

    @property
    def racks(self) -> tuple[RackView, ...]:
        """Every rack, in hall, row and rack order."""
        return tuple(r for row in self.rows for r in row.racks)

    @property
    def halls(self) -> tuple[int, ...]:
        """The halls, in order."""
        return tuple(sorted({row.hall for row in self.rows}))

    @property
    def held(self) -> tuple[Incident, ...]:
        """Incidents whose drain the circuit breaker holds: broken nodes still taking jobs."""
        return tuple(i for i in self.incidents if i.status == "held")

    def count(self, state: str) -> int:
        """Nodes in shown state `state`."""
        return sum(t.nodes.get(state, 0) for t in self.tallies)

    def gpus(self, state: str | None = None) -> int:
        """GPUs in shown state `state`, or planned (None)."""
        if state is None:
            return sum(t.planned_gpus for t in self.tallies)
        return sum(t.gpus.get(state, 0) for t in self.tallies)


def build_report(
    plan: Plan,
    stack: str,
    ledger: LedgerRead,
    scheduler: SchedulerRead,
    drills: Sequence[Drill],
    made_at: datetime,
    evidence_root: Path,
    sources: Sequence[tuple[str, str]] = (),
) -> Report:
    """The report of `stack` at `made_at`, from its plan and what was read."""
    statuses = {s.node: s for s in ledger.statuses}
    unclosed = _unclosed_by_node(ledger.incidents)
    views = tuple(
        _node_view(i, plan, node, statuses.get(node.name), unclosed.get(node.name), scheduler)
        for i, node in enumerate(plan.nodes)
    )
    by_node = {v.name: v for v in views}
    racks = _rack_views(plan, by_node, ledger.incidents)
    gpus = {sku: load_catalog().sku(sku).gpus_per_unit for sku in {n.sku for n in plan.nodes}}
    return Report(
        stack=stack,
        cluster=plan.cluster.name,
        site=plan.cluster.site.name,
        made_at=made_at,
        sources=tuple(sources),
        nodes=views,
        rows=_rows(racks),
        tallies=tally(views),
        capacity=capacity_chart(ledger.histories, plan, gpus, made_at),
        incidents=tuple(ledger.incidents),
        failing_cables=failing_cables(plan, views),
        fabrics=plan.fabrics,
        drills=tuple(sorted(drills, key=lambda d: d.name, reverse=True)),
        runs=tuple(sorted(ledger.runs, key=lambda r: (r.started_at, r.id), reverse=True)),
        scheduler=scheduler,
        evidence_root=evidence_root,
    )


def _unclosed_by_node(incidents: Iterable[Incident]) -> dict[str, Incident]:
    """Each node's incident not yet closed (a node has at most one)."""
    return {i.node: i for i in incidents if i.status in UNCLOSED}


def _node_view(
    index: int,
    plan: Plan,
    node: Node,
    status: NodeStatus | None,
    incident: Incident | None,
    scheduler: SchedulerRead,
) -> NodeView:
    return NodeView(
        index=index,
        node=node,
        gpus=plan.gpus_of(node),
        state=shown_state(status.state if status else None),
        ledger_state=status.state if status else "",
        since=status.since if status else None,
        reason=status.reason if status else "",
        findings=status.findings if status else (),
        incident=incident,
        scheduler=scheduler.describe(node.name),
    )


def _rack_views(
    plan: Plan, by_node: Mapping[str, NodeView], incidents: Sequence[Incident]
) -> list[RackView]:
    tors: dict[str, tuple[str, ...]] = {}
    for fp in plan.fabrics:
        for rack, count in fp.tors:
            tors[rack] = tors.get(rack, ()) + tuple(
                fp.tor_name(rack, i) for i in range(1, count + 1)
            )
    domain_incidents: dict[str, Incident] = {}
    for incident in incidents:
        if incident.domain and incident.status in UNCLOSED:
            node = plan.by_name.get(incident.node)
            if node is not None:
                domain_incidents.setdefault(node.rack, incident)
    return [
        RackView(
            rack,
            tuple(by_node[n.name] for n in plan.nodes_in(rack.name)),
            tors.get(rack.name, ()),
            domain_incidents.get(rack.name),
        )
        for rack in plan.racks
    ]


def _rows(racks: Sequence[RackView]) -> tuple[Row, ...]:
    grouped: dict[tuple[int, int], list[RackView]] = {}
    for rack in racks:
        p: Position = rack.rack.position
        grouped.setdefault((p.hall, p.row), []).append(rack)
    return tuple(
        Row(hall, row, tuple(sorted(members, key=lambda r: r.rack.position.rack)))
        for (hall, row), members in sorted(grouped.items())
    )


def tally(nodes: Iterable[NodeView]) -> tuple[Tally, ...]:
    """Nodes and GPUs per SKU and shown state, SKUs by name; every state present, zero or not."""
    node_counts: dict[str, Counter[str]] = {}
    gpu_counts: dict[str, Counter[str]] = {}
    for view in nodes:
        node_counts.setdefault(view.node.sku, Counter())[view.state] += 1
        gpu_counts.setdefault(view.node.sku, Counter())[view.state] += view.gpus
    return tuple(
        Tally(
            sku,
            {s: node_counts[sku][s] for s in SHOWN_STATES},
            {s: gpu_counts[sku][s] for s in SHOWN_STATES},
        )
        for sku in sorted(node_counts)
    )


def capacity_chart(
    histories: Mapping[str, History], plan: Plan, gpus: Mapping[str, int], until: datetime
) -> CapacityChart:
    """Admitted GPUs of each SKU with GPUs after every change of the ledger's history, and at
    `until` (nodes the plan no longer has are left out)."""
    skus = tuple(sku for sku in sorted(gpus) if gpus[sku])
    column = {sku: i for i, sku in enumerate(skus)}
    changes: list[tuple[datetime, int, int]] = []  # (at, SKU column, +/- GPUs)
    for name, history in histories.items():
        node = plan.by_name.get(name)
        if node is None or node.sku not in column:
            continue
        admitted = False
        for at, state, _, _ in history:
            if (state == "admitted") != admitted:
                admitted = not admitted
                changes.append(
                    (at, column[node.sku], gpus[node.sku] if admitted else -gpus[node.sku])
                )
    changes.sort(key=lambda c: c[0])
    current = [0] * len(skus)
    points: list[tuple[datetime, tuple[int, ...]]] = []
    for at, col, delta in changes:
        current[col] += delta
        if points and points[-1][0] == at:
            points[-1] = (at, tuple(current))
        else:
            points.append((at, tuple(current)))
    # a writer's clock ahead of ours must not leave its changes out: the chart ends with the
    # tallies, which count every node's current state
    points.append((max(until, points[-1][0]) if points else until, tuple(current)))
    sampled = len(points) > _CAPACITY_POINTS
    return CapacityChart(skus, tuple(_sample(points) if sampled else points), sampled)


def _sample(
    points: Sequence[tuple[datetime, tuple[int, ...]]],
) -> list[tuple[datetime, tuple[int, ...]]]:
    """The value at `_CAPACITY_POINTS` evenly spaced times from the first point to the last."""
    start, end = points[0][0], points[-1][0]
    step = (end - start) / (_CAPACITY_POINTS - 1)
    out, i = [], 0
    for k in range(_CAPACITY_POINTS):
        at = start + step * k if k < _CAPACITY_POINTS - 1 else end
        while i + 1 < len(points) and points[i + 1][0] <= at:
            i += 1
        out.append((at, points[i][1]))
    return out


def failing_cables(plan: Plan, nodes: Iterable[NodeView]) -> tuple[FailingCable, ...]:
    """The cables of failing NIC ports (findings on ``nic:<host>/<port>`` that name a cable),
    resolved in the plan, by node then cable."""
    found: dict[tuple[str, str], FailingCable] = {}
    for view in nodes:
        for f in view.failing:
            cable_id = f.attributes.get("cable")
            if not f.component.startswith("nic:") or not cable_id:
                continue
            cable = plan.cables.cable_by_id(cable_id)
            found.setdefault(
                (view.name, cable_id),
                FailingCable(
                    node=view.name,
                    component=f.component,
                    check=f.check,
                    observed=f.observed,
                    expected=f.expected,
                    device=f.attributes.get("device", ""),
                    cable=cable_id,
                    leaf=cable.b_device if cable else f.attributes.get("leaf", ""),
                    leaf_port=cable.b_port if cable else f.attributes.get("leaf_port", ""),
                    fabric=cable.fabric if cable else "",
                    plane=cable.plane if cable else 0,
                    rail=(cable.rail or 0) if cable else 0,
                ),
            )
    return tuple(found[key] for key in sorted(found))

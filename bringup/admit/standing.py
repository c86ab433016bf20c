"""Where each node stands: the ledger's state beside the scheduler's, and where they disagree.

The ledger says what bringup decided; the scheduler says what work may run. They disagree when
an admitted node is held or missing, when a quarantined or unreachable node is not held, and
whenever someone other than bringup holds a node (shown with that hold's reason, which bringup
never lifts).

>>> disagreement("quarantined", SchedulerNode("n1", "idle"))
'quarantined, but idle'
>>> disagreement("admitted", SchedulerNode("n1", "drained", True, "hw ticket 123"))
'drained by operator: hw ticket 123'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bringup.admit.ledger import NodeStatus
from bringup.scheduler.adapter import SchedulerNode

HELD_STATES = frozenset({"quarantined", "unreachable"})
"""Ledger states whose nodes the scheduler must hold."""


@dataclass(frozen=True, slots=True)
class NodeStanding:
    """One node in the ledger and in the scheduler."""

    node: str
    ledger: NodeStatus | None
    scheduler: SchedulerNode | None
    read: bool
    """Whether the scheduler was read (False: no scheduler, or it could not be reached)."""

    @property
    def disagreement(self) -> str | None:
        """Where the scheduler contradicts the ledger; None where they agree or it was not read."""
        if not self.read:
            return None
        return disagreement(self.ledger.state if self.ledger else None, self.scheduler)

    def summary(self) -> dict[str, Any]:
        """The standing as plain data: one node of `bringup status --format json`."""
        status, node = self.ledger, self.scheduler
        return {
            "node": self.node,
            "state": status.state if status else "unknown",
            "since": status.since.isoformat() if status else None,
            "findings": [f.to_json() for f in status.findings] if status else [],
            "scheduler": None
            if node is None
            else {
                "state": node.state,
                "held": node.held,
                "reason": node.reason if node.held else "",
                "owned": node.owned,
            },
            "disagreement": self.disagreement,
        }

    def scheduler_cell(self) -> str:
        """The scheduler's side in a table cell: ``idle``, ``drained: <reason>``…"""
        if not self.read:
            return ""
        node = self.scheduler
        if node is None:
            return "not in the scheduler"
        return f"{node.state}: {node.reason}" if node.held else node.state


def standings(
    names: Sequence[str],
    statuses: Sequence[NodeStatus],
    read: Mapping[str, SchedulerNode] | None,
) -> list[NodeStanding]:
    """Each node of `names` with its ledger status and, when the scheduler was `read`, its
    scheduler state."""
    known = {s.node: s for s in statuses}
    return [
        NodeStanding(n, known.get(n), None if read is None else read.get(n), read is not None)
        for n in names
    ]


def disagreement(state: str | None, node: SchedulerNode | None) -> str | None:
    """What in the scheduler's view of a node contradicts the ledger's `state` of it."""
    if node is None:
        return "admitted, but not in the scheduler" if state == "admitted" else None
    if node.by_operator:
        return f"{node.state} by operator: {node.reason}"
    if state == "admitted" and node.held:
        return f"admitted, but {node.state}: {node.reason}"
    if state in HELD_STATES and not node.held:
        return f"{state}, but {node.state}"
    return None

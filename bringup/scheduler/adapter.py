"""The one interface admission and health tell a scheduler through: read, hold, release nodes.

Neither caller knows which scheduler is behind a :class:`SchedulerAdapter`; the stack's Access
names one of :data:`ADAPTERS` (``slurm``, or ``none``: no scheduler is told) and
:func:`adapter_for` loads it. Ownership is the same for every adapter: bringup holds a node with a
reason that starts with ``bringup:`` and lifts only the holds it made. A node held for any other
reason (an operator's ticket, the scheduler's own "Prolog error") is kept held, and said so; a
node the scheduler does not know is reported, not an error for the batch.

>>> held = SchedulerNode("n1", "drained", held=True, reason="hw ticket 123")
>>> held.owned, held.by_operator
(False, True)
>>> bringup_reason("gpu:n1/0 gpu.ecc_uncorrected", "20261206T140500-1a2b3c4d")
'bringup: gpu:n1/0 gpu.ecc_uncorrected (run 20261206T140500-1a2b3c4d)'
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, cast

from bringup.access import SchedulerAccess, load
from bringup.errors import BringupError

OWNER = "bringup:"
"""What every reason of bringup's holds starts with, and nobody else's should."""

REASON_LIMIT = 128
"""The longest reason bringup gives: sinfo and squeue print reasons in narrow columns."""

ADAPTERS: Mapping[str, str] = {
    "none": "bringup.scheduler.none:NoScheduler",
    "slurm": "bringup.scheduler.slurm:SlurmScheduler",
    "kubernetes": "bringup.scheduler.kubernetes:KubernetesScheduler",
}
"""Scheduler adapters by name: "module:callable" taking a SchedulerAccess."""

Outcome = Literal["held", "released", "kept", "missing"]
"""What became of a node asked to be held or released: held or released as asked; kept held by
someone else's hold (never lifted, never overwritten); missing from the scheduler."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class SchedulerError(BringupError):
    """A scheduler that could not be read or told: the command, and what it said."""


@dataclass(frozen=True, slots=True)
class SchedulerNode:
    """One node as the scheduler sees it."""

    name: str
    state: str
    """The scheduler's word for it: idle, allocated, mixed, down, drained, draining… (``*``
    appended when it does not respond)."""
    held: bool = False
    """Whether new work is kept off it (Slurm: the DRAIN flag)."""
    reason: str = ""
    """The reason of its hold. Slurm keeps a resumed node's old reason: it counts only when
    the node is held."""

    @property
    def owned(self) -> bool:
        """Whether bringup holds it (held, with a reason of bringup's)."""
        return self.held and self.reason.startswith(OWNER)

    @property
    def by_operator(self) -> bool:
        """Whether someone other than bringup holds it."""
        return self.held and not self.owned


@dataclass(frozen=True, slots=True)
class NodeOutcome:
    """What a hold or a release did to one node, and where the node stands afterwards."""

    node: str
    outcome: Outcome
    state: str = ""
    """The scheduler's state afterwards; empty when it does not know the node."""
    reason: str = ""
    """The reason of the hold afterwards, bringup's or the one kept; empty when not held."""

    def describe(self) -> str:
        """One cell of a table: ``idle``, ``drained: bringup: …``, ``kept drained by
        operator: hw ticket 123``, ``not in the scheduler``."""
        if self.outcome == "missing":
            return "not in the scheduler"
        if self.outcome == "kept":
            return f"kept {self.state} by operator: {self.reason}"
        return f"{self.state}: {self.reason}" if self.reason else self.state


@dataclass(frozen=True, slots=True)
class SchedulerResult:
    """The outcome of a hold or a release, per node."""

    outcomes: dict[str, NodeOutcome] = field(default_factory=dict)

    def with_outcome(self, outcome: Outcome) -> list[str]:
        """The nodes with `outcome`, sorted."""
        return sorted(n for n, o in self.outcomes.items() if o.outcome == outcome)


class SchedulerAdapter(Protocol):
    """What admission and health ask of a scheduler."""

    name: str
    drives: bool
    """Whether a scheduler is behind it (False for ``none``: nothing read, nothing told)."""
    takes_labels: bool
    """Whether it gives nodes the plan's labels (Kubernetes); Slurm reads its topology from
    topology.conf."""

    def describe(self) -> str:
        """Which scheduler this is and how it is reached, for messages."""
        ...

    def nodes(self, names: Sequence[str]) -> dict[str, SchedulerNode]:
        """The nodes of `names` the scheduler knows (the others are absent), read at once."""
        ...

    def hold(self, nodes_by_reason: Mapping[str, Sequence[str]]) -> SchedulerResult:
        """Hold nodes with bringup's reasons (each starts with ``bringup: ``); a node someone
        else holds keeps that hold and is reported kept."""
        ...

    def release(self, nodes: Sequence[str]) -> SchedulerResult:
        """Lift bringup's holds of `nodes`; a node someone else holds stays held (kept)."""
        ...

    def label(self, labels: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Give each node of `labels` its planned labels; returns the nodes changed."""
        ...


class OwnedHolds(ABC):
    """hold and release under bringup's ownership rules, over a scheduler's three primitives.

    A concrete adapter reads nodes and drains or resumes a group of nodes with one reason; the
    rules live here once: bringup never overwrites or lifts a hold it did not make, skips a hold
    already in place, and reports each node as it reads after the change.
    """

    name: str
    drives = True
    takes_labels = False
    coexists = False
    """Whether bringup's hold sits beside someone else's (Kubernetes: a taint beside an
    operator's cordon), so that a node held by them is held by bringup too; Slurm has one
    reason per node, and someone else's is never overwritten."""

    @abstractmethod
    def nodes(self, names: Sequence[str]) -> dict[str, SchedulerNode]:
        """The nodes of `names` the scheduler knows, read at once."""

    @abstractmethod
    def _drain(self, reason: str, names: Sequence[str]) -> None:
        """Hold every node of `names` (all known to the scheduler) with `reason`."""

    @abstractmethod
    def _resume(self, names: Sequence[str]) -> None:
        """Lift the hold of every node of `names` (all known to the scheduler)."""

    def label(self, labels: Mapping[str, Mapping[str, str]]) -> list[str]:
        """No labels: overridden by an adapter that takes them."""
        return []

    def hold(self, nodes_by_reason: Mapping[str, Sequence[str]]) -> SchedulerResult:
        """Hold nodes with bringup's reasons; someone else's hold is kept."""
        wanted = _reason_per_node(nodes_by_reason)
        current = self.nodes(list(wanted))
        groups: dict[str, list[str]] = {}
        for node, reason in wanted.items():
            now = current.get(node)
            if now is None or (now.owned and now.reason == reason):
                continue
            if now.by_operator and not self.coexists:
                continue
            groups.setdefault(reason, []).append(node)
        for reason, group in groups.items():
            self._drain(reason, group)
        changed = [n for group in groups.values() for n in group]
        if changed:
            current |= self.nodes(changed)
        outcomes = {n: self._outcome(n, current.get(n), "held") for n in wanted}
        return SchedulerResult(outcomes)

    def release(self, nodes: Sequence[str]) -> SchedulerResult:
        """Lift bringup's holds of `nodes`; someone else's hold is kept."""
        names = list(dict.fromkeys(nodes))
        current = self.nodes(names)
        mine = [n for n in names if n in current and current[n].owned]
        if mine:
            self._resume(mine)
            current |= self.nodes(mine)
        outcomes = {n: self._outcome(n, current.get(n), "released") for n in names}
        return SchedulerResult(outcomes)

    def _outcome(self, name: str, node: SchedulerNode | None, asked: Outcome) -> NodeOutcome:
        """What the node reads now, checked against what was asked of it."""
        if node is None:
            return NodeOutcome(name, "missing")
        if node.by_operator:
            return NodeOutcome(name, "kept", node.state, node.reason)
        if node.held != (asked == "held"):
            raise SchedulerError(
                f"{self.name}: node {name} was {asked}, but reads {node.state}"
                + (f" ({node.reason})" if node.held else "")
            )
        return NodeOutcome(name, asked, node.state, node.reason if node.held else "")


def adapter_for(access: SchedulerAccess) -> SchedulerAdapter:
    """The adapter the Access names, built for it (AccessError for an unknown name)."""
    factory = cast(
        Callable[[SchedulerAccess], SchedulerAdapter],
        load(ADAPTERS, access.adapter, "scheduler adapter"),
    )
    return factory(access)


def bringup_reason(what: str, run_id: str) -> str:
    """``bringup: <what> (run <id>)`` on one line, `what` shortened to fit REASON_LIMIT."""
    suffix = f" (run {run_id})"
    text = " ".join(_CONTROL.sub(" ", what).split())
    room = REASON_LIMIT - len(OWNER) - 1 - len(suffix)
    if len(text) > room:
        text = text[: max(0, room - 3)].rstrip() + "..."
    return f"{OWNER} {text}{suffix}"


def _reason_per_node(nodes_by_reason: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each node's reason; ValueError for a reason not bringup's, or two for one node."""
    wanted: dict[str, str] = {}
    for reason, names in nodes_by_reason.items():
        if not reason.startswith(OWNER + " ") or _CONTROL.search(reason):
            raise ValueError(f"hold reason {reason!r}: expected one line starting {OWNER!r}")
        for name in names:
            if wanted.setdefault(name, reason) != reason:
                raise ValueError(f"node {name}: two hold reasons, {wanted[name]!r} and {reason!r}")
    return wanted

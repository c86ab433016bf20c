"""The ``none`` scheduler adapter: no scheduler is told, and every message says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bringup.access import SchedulerAccess
from bringup.scheduler.adapter import SchedulerNode, SchedulerResult


class NoScheduler:
    """A stack whose nodes join no scheduler bringup drives: holds and releases do nothing.

    >>> NoScheduler().hold({"bringup: validation pending (run r)": ["n1"]}).outcomes
    {}
    """

    name = "none"
    drives = False
    takes_labels = False

    def __init__(self, access: SchedulerAccess | None = None) -> None:
        """Nothing of `access` is used: there is nothing to reach."""

    def describe(self) -> str:
        """Says that no scheduler is told."""
        return "none (no scheduler is told: the stack's Access names no scheduler adapter)"

    def nodes(self, names: Sequence[str]) -> dict[str, SchedulerNode]:
        """No scheduler, no nodes."""
        return {}

    def hold(self, nodes_by_reason: Mapping[str, Sequence[str]]) -> SchedulerResult:
        """Holds nothing."""
        return SchedulerResult()

    def release(self, nodes: Sequence[str]) -> SchedulerResult:
        """Releases nothing."""
        return SchedulerResult()

    def label(self, labels: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Labels nothing."""
        return []

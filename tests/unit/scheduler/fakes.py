"""A scheduler in memory, under bringup's ownership rules: what admission tests tell."""

from __future__ import annotations

from collections.abc import Sequence

from bringup.scheduler.adapter import OwnedHolds, SchedulerError, SchedulerNode


class FakeScheduler(OwnedHolds):
    """Nodes idle unless set otherwise; every drain and resume logged; `down` makes every call
    fail as an unreachable controller does."""

    name = "fake"

    def __init__(self, *names: str) -> None:
        self.state = {n: SchedulerNode(n, "idle") for n in names}
        self.calls: list[tuple[str, tuple[str, ...], str]] = []
        self.reads = 0
        self.down = False

    def describe(self) -> str:
        return "fake (in memory)"

    def set(self, name: str, state: str, *, reason: str = "", held: bool = False) -> None:
        self.state[name] = SchedulerNode(name, state, held, reason)

    def nodes(self, names: Sequence[str]) -> dict[str, SchedulerNode]:
        self._answer()
        self.reads += 1
        return {n: self.state[n] for n in names if n in self.state}

    def _drain(self, reason: str, names: Sequence[str]) -> None:
        self._answer()
        self.calls.append(("drain", tuple(names), reason))
        for n in names:
            self.set(n, "drained", reason=reason, held=True)

    def _resume(self, names: Sequence[str]) -> None:
        self._answer()
        self.calls.append(("resume", tuple(names), ""))
        for n in names:
            self.set(n, "idle", reason=self.state[n].reason)  # Slurm keeps the old reason

    def _answer(self) -> None:
        if self.down:
            raise SchedulerError("fake: `scontrol show node` failed (exit 1): connect failure")

    def reasons(self) -> dict[str, str]:
        """Each held node's reason."""
        return {n: s.reason for n, s in sorted(self.state.items()) if s.held}

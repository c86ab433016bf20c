"""A live progress display of a playbook run: hosts done, failed, unreachable; current task."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live

from bringup.provision.runner import TaskEvent


class Progress:
    """Feed it TaskEvents (as `on_event`); it redraws one status line per event.

    >>> with Progress(hosts=4) as progress:  # doctest: +SKIP
    ...     run_playbook(request, on_event=progress.update)
    """

    def __init__(self, hosts: int, console: Console | None = None) -> None:
        self.hosts = hosts
        self.task = ""
        self.failed: set[str] = set()
        self.unreachable: set[str] = set()
        self.seen: set[str] = set()
        self._live = Live(self._render(), console=console or Console(), transient=True)

    def __enter__(self) -> Progress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._live.__exit__(kind, error, trace)

    def update(self, event: TaskEvent) -> None:
        """Take one event into account."""
        self.seen.add(event.host)
        if event.status == "unreachable":
            self.unreachable.add(event.host)
        else:
            # a host run again after a connection failure is unreachable only if it fails again
            self.unreachable.discard(event.host)
        if event.status == "started":
            self.task = event.task
        elif event.status == "failed":
            self.failed.add(event.host)
        self._live.update(self._render())

    def _render(self) -> str:
        return (
            f"hosts {len(self.seen)}/{self.hosts}  failed {len(self.failed)}  "
            f"unreachable {len(self.unreachable)}  task: {self.task}"
        )

"""The progress line counts a host unreachable only while its last try left it so."""

from __future__ import annotations

import io

from rich.console import Console

from bringup.provision import TaskEvent
from bringup.provision.progress import Progress


def test_a_host_reached_on_a_retry_is_no_longer_counted_unreachable() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    with Progress(hosts=2, console=console) as progress:
        progress.update(TaskEvent(host="n1", task="Ping", status="started"))
        progress.update(TaskEvent(host="n1", task="Ping", status="unreachable", message="refused"))
        progress.update(TaskEvent(host="n2", task="Ping", status="unreachable", message="refused"))
        assert progress.unreachable == {"n1", "n2"}
        progress.update(TaskEvent(host="n1", task="Ping", status="started"))
        progress.update(TaskEvent(host="n1", task="Ping", status="ok"))
        assert progress.unreachable == {"n2"}
        assert "unreachable 1" in progress._render()

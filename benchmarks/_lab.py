"""What the lab benchmarks share: a fresh lab of the first N nodes of a stack, torn down after."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bringup.lab.lab import Lab
from bringup.plan import Plan
from bringup.provision import SshSettings
from bringup.provision.inventory import write_inventory


@dataclass(frozen=True)
class LabRun:
    """A running lab with its project folder, rendered inventory, hosts and SSH settings."""

    project: Path
    lab: Lab
    inventory: Path
    hosts: tuple[str, ...]
    ssh: SshSettings


@contextmanager
def fresh_lab(plan: Plan, stack: str, count: int, prefix: str) -> Iterator[LabRun]:
    """A new lab of `count` nodes in a temporary project; down (and removed) on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        project = Path(tmp)
        lab = Lab(project, stack)
        lab.down()
        lab.up(plan, count)
        try:
            yield LabRun(
                project,
                lab,
                write_inventory(plan, stack, project),
                tuple(r["name"] for r in lab.state()["nodes"]),
                SshSettings(private_key=lab.key, known_hosts=lab.known_hosts),
            )
        finally:
            lab.down()

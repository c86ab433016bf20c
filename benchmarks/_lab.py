"""What the lab benchmarks share: a fresh lab of the first N nodes of a stack, torn down after."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bringup.lab.lab import Lab
from bringup.plan import Plan
from bringup.provision import ProvisionRequest
from bringup.provision.inventory import write_inventory
from bringup.workspace import REPOSITORY, StackPaths, Workspace


@dataclass(frozen=True)
class LabRun:
    """A running lab with its project folder, rendered inventory and hosts."""

    lab: Lab
    stack: StackPaths
    inventory: Path
    hosts: tuple[str, ...]

    @property
    def project(self) -> Path:
        """The lab's project folder (a temporary one)."""
        return self.stack.workspace.root

    def provision(self) -> ProvisionRequest:
        """The provision playbook on every node of the lab."""
        return ProvisionRequest(
            playbook=REPOSITORY / "playbooks" / "provision.yml",
            inventory=self.inventory,
            private_data_dir=self.project / "runs",
            hosts=self.hosts,
            access=self.lab.access(),
        )


@contextmanager
def fresh_lab(
    plan: Plan, stack: str, count: int, prefix: str, under: str | None = None
) -> Iterator[LabRun]:
    """A new lab of `count` nodes in a temporary project (in folder `under`, default the
    system's temporary folder); down (and removed) on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=under) as tmp:
        workspace = Workspace(Path(tmp))
        lab = Lab(workspace, stack)
        lab.down()
        lab.up(plan, count)
        try:
            paths = workspace.stack(stack)
            yield LabRun(
                lab,
                paths,
                write_inventory(plan, paths),
                tuple(r["name"] for r in lab.state()["nodes"]),
            )
        finally:
            lab.down()

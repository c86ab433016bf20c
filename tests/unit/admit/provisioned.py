"""A lab of a stack's first nodes, provisioned once with the project's playbook: what the tests of
admission against a real scheduler (Slurm, Kubernetes) start from."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bringup.lab.lab import Lab
from bringup.plan import Plan
from bringup.provision import ProvisionRequest, run_playbook
from bringup.provision.inventory import write_inventory
from bringup.workspace import REPOSITORY, Workspace


@contextmanager
def provisioned_lab(stack: str, plan: Plan, hosts: list[str]) -> Iterator[Lab]:
    """A fresh lab of `stack` with the first ``len(hosts)`` nodes of `plan`, every role applied,
    in a project of its own; down and gone afterwards. The project lives outside /tmp: a lab
    node has a /tmp of its own, and jobs on the nodes read the inventory where it was written."""
    project = Path(tempfile.mkdtemp(prefix=f"bringup-{stack}-", dir="/var/tmp"))
    lab = Lab(Workspace(project), stack)
    lab.down()
    lab.up(plan, len(hosts))
    try:
        result = run_playbook(
            ProvisionRequest(
                playbook=REPOSITORY / "playbooks" / "provision.yml",
                inventory=write_inventory(plan, lab.workspace.stack(stack)),
                private_data_dir=project / "runs",
                hosts=tuple(hosts),
                access=lab.access(),
            )
        )
        assert result.converged, result.hosts
        yield lab
    finally:
        lab.down()
        shutil.rmtree(project, ignore_errors=True)

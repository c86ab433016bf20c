"""A node made unreachable mid-run (marked `root`): reported unreachable after the retries, the
other converges, and the next run converges it once healed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bringup.lab.faults import Options
from bringup.lab.lab import Lab
from bringup.plan import make_plan
from bringup.provision import ProvisionRequest, TaskEvent, run_playbook
from bringup.provision.inventory import write_inventory
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY, Workspace

pytestmark = pytest.mark.root

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))
HOSTS = [n.name for n in PLAN.nodes[:2]]  # the two HGX H100 nodes


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Workspace(tmp_path_factory.mktemp("project")), "lab")
    lab.down()
    lab.up(PLAN, len(HOSTS))
    yield lab
    lab.down()


def test_unreachable_mid_run_then_converged_once_healed(lab: Lab) -> None:
    request = ProvisionRequest(
        playbook=REPOSITORY / "playbooks" / "provision.yml",
        inventory=write_inventory(PLAN, lab.workspace.stack("lab")),
        private_data_dir=lab.workspace.root / "runs",
        hosts=tuple(HOSTS),
        access=lab.access(),
    )
    victim = HOSTS[1]
    cut = threading.Event()

    def cut_after_first_tasks(event: TaskEvent) -> None:
        # once the victim has been reached, take its sshd away while the play goes on
        if event.host == victim and event.status in ("ok", "changed") and not cut.is_set():
            cut.set()
            lab.fault(victim, "unreachable", Options())

    first = run_playbook(request, on_event=cut_after_first_tasks)
    assert cut.is_set()
    assert first.hosts[victim].status == "unreachable"
    # a node whose sshd is gone refuses every try: unreachable once the retries are spent
    assert first.hosts[victim].attempts == 1 + len(request.retry_pauses_s)
    assert first.hosts[HOSTS[0]].status == "changed"
    assert first.hosts[HOSTS[0]].attempts == 1
    lab.heal(victim)
    second = run_playbook(request)
    assert second.hosts[victim].status == "changed"
    assert second.hosts[HOSTS[0]].status == "ok"
    assert second.converged

"""Slurm's block topology on real daemons (marked `root` and `slurm`): a job asking for one NVLink
domain's worth of nodes with ``--segment`` lands inside one domain.

A lab of the first two GB200 NVL72 racks of the `gb200-su` stack (36 trays; its Slurm topology
is topology/block, one block per rack), with only the slurm_node role run on them. The other
racks stay in slurm.conf, never registered.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bringup.lab.lab import Lab
from bringup.plan import make_plan
from bringup.plan.scheduler import hostlist
from bringup.provision import ProvisionRequest, run_playbook
from bringup.provision.inventory import write_inventory
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY, Workspace

pytestmark = [pytest.mark.root, pytest.mark.slurm]

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.gb200-su.yaml"))
DOMAINS = [d.nodes for d in PLAN.domains[:2]]
NODES = [n for domain in DOMAINS for n in domain]
SETTLE_S = 90.0


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    assert [n.name for n in PLAN.nodes[: len(NODES)]] == NODES  # the lab takes the first nodes
    project = tmp_path_factory.mktemp("project")
    lab = Lab(Workspace(project), "gb200-su")
    lab.down()
    lab.up(PLAN, len(NODES))
    try:
        result = run_playbook(
            ProvisionRequest(
                playbook=Path(__file__).with_name("join_slurm.yml"),
                inventory=write_inventory(PLAN, lab.workspace.stack("gb200-su")),
                private_data_dir=project / "runs",
                hosts=tuple(NODES),
                access=lab.access(),
            )
        )
        assert result.converged, result.hosts
        yield lab
    finally:
        lab.down()


def _tool(lab: Lab, *args: str) -> str:
    return lab.slurm.tool(*args).stdout


def _wait_idle(lab: Lab, nodes: list[str]) -> dict[str, str]:
    """Each node's state once all of `nodes` are idle (or the time is up)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        out = _tool(lab, "sinfo", "-N", "-h", "-o", "%N %T", "-n", hostlist(nodes))
        states = dict(line.split() for line in out.splitlines())
        if all(s == "idle" for s in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def _domain_of(node: str) -> int:
    return next(i for i, members in enumerate(DOMAINS) if node in members)


def test_the_lab_runs_one_block_per_nvlink_domain(lab: Lab) -> None:
    conf = lab.slurm.conf.read_text()
    assert "TopologyPlugin=topology/block" in conf.splitlines()
    blocks = [
        line for line in (lab.slurm.dir / "topology.conf").read_text().splitlines()
        if line.startswith("BlockName=")
    ]  # fmt: skip
    assert len(blocks) == len(PLAN.domains)
    assert f"Nodes={hostlist(list(DOMAINS[0]))}" in blocks[0]


def test_a_domain_s_worth_of_nodes_with_segment_lands_in_one_domain(lab: Lab) -> None:
    _tool(lab, "scontrol", "update", f"NodeName={hostlist(NODES)}", "State=RESUME")
    assert _wait_idle(lab, NODES) == dict.fromkeys(NODES, "idle")
    size = len(DOMAINS[0])
    ran = _tool(lab, "srun", f"-N{size}", f"--segment={size}", "--time=2", "hostname")
    assert len(set(ran.split())) == size
    assert {_domain_of(n) for n in ran.split()} in ({0}, {1})
    # one tray of the first domain out: a flat placement would take the other 17 and one more;
    # the block topology takes the whole second domain
    first = DOMAINS[0][0]
    _tool(lab, "scontrol", "update", f"NodeName={first}", "State=DRAIN", "Reason=hw ticket 1")
    try:
        ran = _tool(lab, "srun", f"-N{size}", f"--segment={size}", "--time=2", "hostname")
    finally:
        _tool(lab, "scontrol", "update", f"NodeName={first}", "State=RESUME")
    assert sorted(ran.split()) == sorted(DOMAINS[1])

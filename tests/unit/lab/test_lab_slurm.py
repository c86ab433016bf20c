"""The lab's real Slurm (marked `root` and `slurm`): slurmctld and munged on the host, munged
and slurmd on each node, installed by the slurm_node role from the lab's repository.

One lab of the first three nodes of the `lab` stack (two HGX H100 and one GB200 tray) for the
module, provisioned once; the other planned nodes stay in slurm.conf, never registered.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bringup.lab.lab import Lab
from bringup.lab.slurm import MUNGE_SOCKET, PACKAGE_PLUGINS, _lab_daemons
from bringup.plan import make_plan
from bringup.provision import ProvisionRequest, ProvisionResult, run_playbook
from bringup.provision.inventory import write_inventory
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY, Workspace

from .conftest import ssh

pytestmark = [pytest.mark.root, pytest.mark.slurm]

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))
NODES = [n.name for n in PLAN.nodes[:3]]
HGX1, HGX2, TRAY = NODES


class Site:
    """The lab, its inventory, and Slurm's client tools pointed at its controller."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.inventory = write_inventory(PLAN, lab.workspace.stack("lab"))

    def provision(self) -> ProvisionResult:
        return run_playbook(
            ProvisionRequest(
                playbook=REPOSITORY / "playbooks" / "provision.yml",
                inventory=self.inventory,
                private_data_dir=self.lab.workspace.root / "runs",
                hosts=tuple(NODES),
                access=self.lab.access(),
            )
        )

    def slurm(self, tool: str, *args: str) -> str:
        return self.lab.slurm.tool(tool, *args).stdout

    def states(self) -> dict[str, tuple[str, str]]:
        """Node -> (state as sinfo prints it, reason)."""
        out = self.slurm("sinfo", "-N", "-h", "-o", "%N|%T|%E")  # a row per partition
        rows = (line.split("|") for line in out.splitlines())
        return {name: (state, reason) for name, state, reason in rows}

    def on(self, node: str, command: str) -> str:
        address = next(r["management"] for r in self.lab.state()["nodes"] if r["name"] == node)
        return ssh(self.lab.known_hosts, self.lab.key, address, command).stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    lab = Lab(Workspace(tmp_path_factory.mktemp("project")), "lab")
    lab.down()
    lab.up(PLAN, len(NODES))
    try:
        site = Site(lab)
        result = site.provision()
        assert result.converged, result.hosts
        yield site
    finally:
        lab.down()


def test_the_controller_knows_every_planned_node_and_lets_none_take_jobs(site: Site) -> None:
    assert "is UP" in site.slurm("scontrol", "ping")
    states = site.states()
    assert sorted(states) == sorted(n.name for n in PLAN.nodes)
    assert not [n for n, (state, _) in states.items() if state.startswith(("idle", "mix"))]


def test_provisioned_nodes_register_held_by_bringup(site: Site) -> None:
    states = site.states()
    # registered (no '*': slurmd answers), and drained with bringup's reason until admitted
    held = ("drained", "bringup: validation pending")
    assert {n: states[n] for n in NODES} == dict.fromkeys(NODES, held)
    unprovisioned = PLAN.nodes[-1].name
    assert states[unprovisioned][0].endswith("*")


def test_each_node_runs_its_own_munged_with_the_lab_s_key(site: Site) -> None:
    key = site.lab.slurm.munge_key.read_bytes()
    for node in NODES:
        listing = site.on(
            node,
            "stat -c '%U %a' /etc/munge/munge.key; test -S /run/munge/munge.socket.2 && echo ok",
        )
        assert listing.split() == ["munge", "400", "ok"], node
        assert site.on(node, "base64 -w0 /etc/munge/munge.key") == base64.b64encode(key).decode()


def test_the_munge_key_is_in_no_inventory_and_no_playbook_log(site: Site) -> None:
    key = site.lab.slurm.munge_key.read_bytes()
    forms = [key[:48], base64.b64encode(key)[:64], key[:48].hex().encode()]
    leaks = []
    for folder in (site.inventory, site.lab.workspace.root / "runs"):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                leaks += [str(path) for form in forms if form in data]
    assert leaks == []


def test_resumed_nodes_run_a_two_node_job_from_this_host(site: Site) -> None:
    pair = f"{HGX1},{HGX2}"
    site.slurm("scontrol", "update", f"NodeName={pair}", "State=RESUME")
    try:
        out = site.slurm("srun", "-N2", "-w", pair, "--time=2", "hostname")
    finally:
        site.slurm("scontrol", "update", f"NodeName={pair}", "State=DRAIN", "Reason=bringup: test")
    assert sorted(out.split()) == [HGX1, HGX2]


def test_a_second_converge_changes_nothing(site: Site) -> None:
    result = site.provision()
    assert result.converged, result.hosts
    assert {h: r.changed for h, r in result.hosts.items()} == dict.fromkeys(NODES, 0)


def test_down_leaves_no_slurm_daemon_behind(tmp_path: Path) -> None:
    lab = Lab(Workspace(tmp_path / "project"), "lab")
    lab.down()
    lab.up(PLAN, 1)
    assert _lab_daemons()
    lab.down()
    assert _lab_daemons() == []
    assert not MUNGE_SOCKET.exists()
    assert not PACKAGE_PLUGINS.exists()
    done = subprocess.run(["pgrep", "-f", str(lab.slurm.dir)], capture_output=True, check=False)
    assert done.stdout == b""

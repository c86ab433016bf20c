"""The lab on this host (marked `root`; CI runs as root): 4 real SSH hosts, faults, down.

One lab for the module (2 HGX H100 nodes and 2 GB200 trays of the `lab` stack); the last test
takes it down and checks that nothing is left.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import ansible_runner
import pytest

from bringup.lab.lab import Lab
from bringup.lab.layout import BRIDGE_PREFIX, NETNS_PREFIX, VETH_PREFIX, lab_layout
from bringup.lab.state import LabState, NodeStatus
from bringup.lab.system import alive, links, netns_list
from bringup.plan import Plan, make_plan, node_expectation
from bringup.spec import load_cluster
from bringup.workspace import Workspace

from .conftest import shape_errors
from .conftest import ssh as lab_ssh

pytestmark = pytest.mark.root

STACKS = Path(__file__).resolve().parents[3] / "stacks"
PLAN = make_plan(load_cluster(STACKS / "Pulumi.lab.yaml"))
NODES = 4


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Workspace(tmp_path_factory.mktemp("project")), "lab")
    lab.down()
    lab.up(PLAN, NODES)
    yield lab
    lab.down()


def ssh(
    lab: Lab, address: str, command: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `command` on a node over real SSH, strict host-key checking on."""
    return lab_ssh(lab.known_hosts, lab.key, address, command, check)


def _address(plan: Plan, i: int) -> str:
    return str(node_expectation(plan, plan.nodes[i]).management_address)


def test_ansible_ping_reaches_every_node_with_host_key_checking(lab: Lab, tmp_path: Path) -> None:
    hosts = {n.name: {"ansible_host": _address(PLAN, i)} for i, n in enumerate(PLAN.nodes[:NODES])}
    ssh_args = f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes"
    result = ansible_runner.run(
        private_data_dir=str(tmp_path),
        inventory={"all": {"hosts": hosts}},
        host_pattern="all",
        module="ping",
        quiet=True,
        envvars={
            "PATH": f"{Path(__import__('sys').executable).parent}:/usr/bin:/bin:/usr/sbin:/sbin",
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_SSH_ARGS": ssh_args,
            "ANSIBLE_PRIVATE_KEY_FILE": str(lab.key),
            "ANSIBLE_REMOTE_USER": "root",
            "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        },
    )
    assert result.status == "successful"
    assert set(result.stats["ok"]) == set(hosts)
    assert result.stats["dark"] == {}


def test_a_node_with_an_unknown_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    out = lab_ssh(empty, lab.key, _address(PLAN, 0), "true", check=False)
    assert out.returncode == 255
    assert "Host key verification failed" in out.stderr


@pytest.mark.parametrize("index", range(NODES))
def test_hostname_addresses_and_nics_match_the_plan(lab: Lab, index: int) -> None:
    node = PLAN.nodes[index]
    expected = node_expectation(PLAN, node)
    out = ssh(lab, _address(PLAN, index), "hostname; ip -j addr show").stdout
    hostname, _, addresses = out.partition("\n")
    assert hostname == node.name
    seen = {
        i["ifname"].split("@")[0]: f"{a['local']}/{a['prefixlen']}"
        for i in json.loads(addresses)
        for a in i["addr_info"]
        if a["family"] == "inet" and i["ifname"] != "lo"
    }
    assert seen == {n.netdev: f"{n.address}/{n.prefix}" for n in expected.nics}


def test_host_ends_carry_the_cable_ids(lab: Lab) -> None:
    layout = lab_layout(PLAN, NODES)
    for nic in layout.nodes[0].nics:
        out = subprocess.run(
            ["ip", "-j", "link", "show", nic.host_end], capture_output=True, text=True, check=True
        )
        link = json.loads(out.stdout)[0]
        assert link["ifalias"].startswith(nic.cable)
        assert link["master"] == nic.bridge


def test_rail_peers_reach_each_other_over_their_bridge(lab: Lab) -> None:
    peer = node_expectation(PLAN, PLAN.nodes[1]).nics[0].address
    assert ssh(lab, _address(PLAN, 0), f"ping -c 1 -W 2 {peer}").returncode == 0


def test_a_file_written_on_one_node_is_private(lab: Lab) -> None:
    ssh(lab, _address(PLAN, 0), "echo mine > /root/private-file")
    assert ssh(lab, _address(PLAN, 0), "cat /root/private-file").stdout == "mine\n"
    assert ssh(lab, _address(PLAN, 1), "test -e /root/private-file", check=False).returncode == 1
    assert not Path("/root/private-file").exists()


def test_root_home_is_the_node_own_not_the_host(lab: Lab) -> None:
    """The host's dotfiles stay out of the node's sessions; the skeleton's are there."""
    made_on_nodes = {".ssh", ".bashrc", ".profile", ".ansible", "private-file"}
    host_only = {p.name for p in Path("/root").iterdir()} - made_on_nodes
    listing = set(ssh(lab, _address(PLAN, 0), "ls -A /root").stdout.split())
    assert listing & host_only == set()
    skeleton = Path("/etc/skel/.bashrc").read_text(encoding="utf-8")
    assert ssh(lab, _address(PLAN, 0), "cat /root/.bashrc").stdout == skeleton


def test_status_shows_nodes_and_faults(lab: Lab) -> None:
    rows = lab.status()
    assert [r["node"] for r in rows] == [n.name for n in PLAN.nodes[:NODES]]
    assert all(r["up"] and r["sshd"] for r in rows)
    assert [e for row in rows for e in shape_errors(row, NodeStatus)] == []


def test_state_on_disk_has_the_declared_shape(lab: Lab) -> None:
    on_disk = json.loads((lab.dir / "state.json").read_text())
    assert shape_errors(on_disk, LabState) == []
    assert lab.state() == on_disk
    assert [r["name"] for r in on_disk["nodes"]] == [n.name for n in PLAN.nodes[:NODES]]
    assert lab.node_record(PLAN.nodes[1].name) == on_disk["nodes"][1]


def test_unreachable_fault_stops_sshd_and_heal_restarts_it(lab: Lab) -> None:
    node = PLAN.nodes[2].name
    lab.fault(node, "unreachable", __import__("bringup.lab.faults", fromlist=["Options"]).Options())
    assert ssh(lab, _address(PLAN, 2), "true", check=False).returncode == 255
    assert [r["faults"] for r in lab.status() if r["node"] == node] == [["sshd stopped"]]
    lab.heal(node)
    assert ssh(lab, _address(PLAN, 2), "true").returncode == 0


def test_cable_cut_really_takes_the_link_down(lab: Lab) -> None:
    from bringup.lab.faults import Options

    node = PLAN.nodes[0]
    nic = node_expectation(PLAN, node).nics[0]
    lab.fault(node.name, "cable-cut", Options(device=nic.device))
    carrier = f"cat /sys/class/net/{nic.netdev}/carrier 2>/dev/null || echo 0"
    assert ssh(lab, _address(PLAN, 0), carrier).stdout.strip() == "0"
    lab.heal(node.name)
    assert ssh(lab, _address(PLAN, 0), carrier).stdout.strip() == "1"


def test_down_leaves_nothing_behind(lab: Lab) -> None:
    anchors = [r["anchor"] for r in lab.state()["nodes"]]
    lab.down()
    lab.down()  # safe to run twice
    assert [ns for ns in netns_list() if ns.startswith(NETNS_PREFIX)] == []
    assert links(BRIDGE_PREFIX) == []
    assert links(VETH_PREFIX) == []
    assert not any(alive(pid) for pid in anchors)
    mounts = Path("/proc/mounts").read_text()
    assert str(lab.dir) not in mounts
    procs = subprocess.run(
        ["pgrep", "-f", "sshd_bringup_config"], capture_output=True, text=True, check=False
    )
    assert procs.stdout == ""
    assert not (lab.dir / "nodes").exists() or not any((lab.dir / "nodes").iterdir())

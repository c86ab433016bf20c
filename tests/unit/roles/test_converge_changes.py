"""What a converged node does when the plan changes under it (marked `root`): rails routed by
their own tables, the IPoIB mode and MTU a fabric declares, openibd restarted when the stack's
settings change (and only then), and a mount remounted when its options change.

One lab node, the `lab` stack's first HGX H100 (8 InfiniBand rails, 2 storage and 2 in-band
Ethernet ports), converged with the stack as it is; then each test renders the inventory of a
changed declaration, as `bringup up` would, runs the playbook in check mode (the change reported,
nothing made), converges, and converges again (nothing changed). The tests run in file order: each
one reads the state the previous left.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Iterator
from ipaddress import IPv4Interface
from typing import Any

import pytest
import yaml

from bringup.lab.faults import restore_rail_routing
from bringup.lab.lab import Lab
from bringup.plan import Plan, make_plan, node_expectation
from bringup.spec import parse_cluster
from bringup.validation.checks import Check
from bringup.validation.collect import collection_script, parse_outputs
from bringup.validation.judges import JUDGES
from bringup.validation.node import Node as Judged
from bringup.workspace import Workspace

from .conftest import STACKS, render_inventory, write_inventory
from .test_converge import Env

pytestmark = pytest.mark.root

DECLARED: dict[str, Any] = yaml.safe_load((STACKS / "Pulumi.lab.yaml").read_text())["config"][
    "bringup:cluster"
]
HOST = "lab-h1-r01-k01-n1"


def changed(**fabrics: dict[str, Any]) -> dict[str, Any]:
    """The lab's declaration with `fabrics` (by name) given more fields."""
    declared = copy.deepcopy(DECLARED)
    for fabric in declared["fabrics"]:
        fabric.update(fabrics.get(fabric["name"], {}))
    return declared


def plan_of(declared: dict[str, Any]) -> Plan:
    return make_plan(parse_cluster(declared))


def expected(plan: Plan) -> dict[str, Any]:
    return node_expectation(plan, plan.node(HOST)).to_json()


class Node:
    """The lab node, converged from the inventory of one declaration at a time."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.plan = plan_of(DECLARED)

    def declare(self, declared: dict[str, Any]) -> None:
        """Render the inventory of `declared` over the node's."""
        self.plan = plan_of(declared)
        write_inventory(render_inventory(self.plan, "lab"), self.env.inventory.parent)
        self.env.states[HOST] = expected(self.plan)

    def sh(self, command: str, check: bool = True) -> str:
        return self.env.sh(HOST, command, check).stdout

    def converge(self, check: bool = False, **extra: Any) -> int:
        """Run provision.yml; the number of tasks it changed (or would change)."""
        run = self.env.play("provision.yml", check=check, **extra)
        run.assert_clean([HOST])
        return run.count("changed", HOST)

    def loads(self) -> list[str]:
        """The lines openibd logged, one per load of the stack."""
        return self.sh("cat /var/log/openibd.log 2>/dev/null", check=False).splitlines()

    def nics(self) -> list[dict[str, Any]]:
        return list(expected(self.plan)["nics"])

    def links(self) -> dict[str, dict[str, Any]]:
        return {link["ifname"]: link for link in json.loads(self.sh("ip -j addr show"))}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    work = tmp_path_factory.mktemp("changes")
    lab = Lab(Workspace(work / "project"), "lab")
    lab.down()
    plan = plan_of(DECLARED)
    assert plan.nodes[0].name == HOST
    try:
        lab.up(plan, 1)
        inventory = write_inventory(render_inventory(plan, "lab"), work / "inventory")
        env = Env(lab, inventory, work, {HOST: expected(plan)})
        converged = Node(env)
        assert converged.converge() > 0
        yield converged
    finally:
        lab.down()


def _network(nic: dict[str, Any]) -> str:
    return str(IPv4Interface(f"{nic['address']}/{nic['prefix']}").network)


def test_each_rail_answers_from_its_own_table(node: Node) -> None:
    rules = json.loads(node.sh("ip -j -4 rule show"))
    railed = [nic for nic in node.nics() if nic["table"] is not None]
    assert len(railed) == 12  # 8 compute rails, 2 storage and 2 in-band ports
    for nic in railed:
        table, where = nic["table"], f"{nic['netdev']} (table {nic['table']})"
        assert {"priority": table, "src": nic["address"], "table": str(table)} in rules, where
        subnet = node.sh(f"ip -4 route show table {table} scope link").split()
        assert subnet[:3] == [f"{_network(nic)}", "dev", nic["netdev"]], where
        if nic["gateway"]:
            # a routed rail: what its address sends off the subnet leaves by the rail's leaf
            far = "10.96.255.1" if nic["fabric"] == "storage" else "10.64.255.1"
            got = node.sh(f"ip -j route get {far} from {nic['address']}")
            leg = json.loads(got)[0]
            assert (leg["dev"], leg.get("gateway")) == (nic["netdev"], nic["gateway"]), where


def test_ipoib_mode_and_mtu_follow_the_fabric(node: Node) -> None:
    compute = [nic for nic in node.nics() if nic["fabric"] == "compute"]
    for nic in compute:
        assert node.sh(f"cat /sys/class/net/{nic['netdev']}/mode").strip() == "datagram"
    node.declare(changed(compute={"ipoib_mode": "connected"}))
    loads = node.loads()
    assert node.converge(check=True) > 0
    for nic in compute:  # check mode made nothing
        assert node.sh(f"cat /sys/class/net/{nic['netdev']}/mode").strip() == "datagram"
        assert node.links()[nic["netdev"]]["mtu"] == 4092
    assert node.loads() == loads
    assert node.converge() > 0
    links = node.links()
    for nic in node.nics():
        where = nic["netdev"]
        if nic["fabric"] == "compute":
            assert node.sh(f"cat /sys/class/net/{where}/mode").strip() == "connected", where
            assert nic["mtu"] == 65520
        assert links[where]["mtu"] == nic["mtu"], where
        inet = [a["local"] for a in links[where]["addr_info"] if a["family"] == "inet"]
        assert inet == [nic["address"]], f"{where}: the reload's flush was converged"
    assert "options ib_ipoib ipoib_enhanced=0" in node.sh(
        "cat /etc/modprobe.d/bringup-doca-ofed.conf"
    )
    assert "SET_IPOIB_CM=yes" in node.sh("cat /etc/infiniband/openib.conf")
    assert len(node.loads()) == len(loads) + 1, "openibd reloaded once, in connected mode"
    assert node.loads()[-1].endswith("mode=connected")
    assert node.converge() == 0
    assert len(node.loads()) == len(loads) + 1, "no reload without a change"


MODPROBE = "/etc/modprobe.d/bringup-doca-ofed.conf"
OPTION = "options mlx5_core num_of_groups=4"
BEFORE: dict[str, str] = {}


def test_a_changed_stack_setting_restarts_openibd_once(node: Node) -> None:
    loads = node.loads()
    BEFORE["modprobe"] = node.sh(f"base64 -w0 {MODPROBE}")
    assert node.converge(check=True, doca_ofed_module_options=[OPTION]) > 0
    assert node.loads() == loads
    assert OPTION not in node.sh(f"cat {MODPROBE}")
    assert node.converge(doca_ofed_module_options=[OPTION]) > 0
    assert len(node.loads()) == len(loads) + 1
    assert OPTION in node.sh(f"cat {MODPROBE}")
    assert node.converge(doca_ofed_module_options=[OPTION]) == 0
    assert len(node.loads()) == len(loads) + 1


def test_a_run_stopped_before_the_restart_restarts_it_the_next_time(node: Node) -> None:
    """A run that took the option out again wrote the file and stopped before the restart: the
    file is as planned, and the stack still runs with the option."""
    loads = node.loads()
    node.sh(f"echo {BEFORE['modprobe']} | base64 -d > {MODPROBE}")
    assert node.converge() > 0
    assert len(node.loads()) == len(loads) + 1
    assert node.converge() == 0
    assert len(node.loads()) == len(loads) + 1


def test_changed_mount_options_are_remounted(node: Node) -> None:
    def options() -> set[str]:
        return set(node.sh("findmnt -n -o OPTIONS /mnt/shared").strip().split(","))

    assert not {"noatime", "nodev"} & options()
    declared = changed(compute={"ipoib_mode": "connected"})
    declared["storage"][0]["options"] = "noatime,nodev,vers=4.2"
    node.declare(declared)
    assert node.converge(check=True) > 0
    assert not {"noatime", "nodev"} & options(), "check mode remounted"
    assert node.converge() > 0
    assert {"noatime", "nodev"} <= options()
    assert "noatime,nodev" in node.sh("grep /mnt/shared /etc/fstab")
    assert node.converge() == 0


def test_the_persisted_configuration_carries_modes_and_rail_routing(node: Node) -> None:
    netplan = yaml.safe_load(node.sh("cat /etc/netplan/60-bringup-rails.yaml"))["network"]
    for nic in node.nics():
        entry = netplan["ethernets"][nic["netdev"]]
        assert entry["mtu"] == nic["mtu"]
        assert entry.get("infiniband-mode") == nic["ipoib_mode"]
        policy = entry["routing-policy"]
        assert policy == [{"from": nic["address"], "table": nic["table"], "priority": nic["table"]}]
        assert {"to": _network(nic), "scope": "link", "from": nic["address"],
                "table": nic["table"]} in entry["routes"]  # fmt: skip


SETTINGS = (Check.NIC_MTU, Check.NIC_IPOIB_MODE, Check.NIC_ROUTING, Check.STORAGE_OPTIONS)


def judged(node: Node) -> dict[str, set[str]]:
    """What the suite finds on the node for the checks of what the roles set: check ->
    components."""
    state = node_expectation(node.plan, node.plan.node(HOST))
    script = collection_script(state)
    outputs = parse_outputs(HOST, node.env.sh(HOST, f"sh -c {shlex.quote(script)}").stdout)
    subject = Judged(state, outputs)
    found = {check.value: {f.component for f in JUDGES[check](subject)} for check in SETTINGS}
    return {check: components for check, components in found.items() if components}


def test_the_suite_names_the_rail_or_mount_that_drifted_and_a_converge_fixes_it(
    node: Node,
) -> None:
    assert judged(node) == {}
    storage2 = next(n for n in node.nics() if n["fabric"] == "storage" and n["rail"] == 2)
    rail3 = next(n for n in node.nics() if n["fabric"] == "compute" and n["rail"] == 3)
    rail5 = next(n for n in node.nics() if n["fabric"] == "compute" and n["rail"] == 5)
    node.sh(f"ip rule del from {storage2['address']} lookup {storage2['table']}")
    node.sh(f"ip link set dev {rail3['netdev']} mtu 4092")
    node.sh(f"echo datagram > /sys/class/net/{rail5['netdev']}/mode")
    node.sh("mount -o remount,atime,dev /mnt/shared")
    assert judged(node) == {
        "nic.routing": {f"nic:{HOST}/storage2"},
        "nic.mtu": {f"nic:{HOST}/rail3"},
        "nic.ipoib_mode": {f"nic:{HOST}/rail5"},
        "storage.options": {f"mount:{HOST}/mnt/shared"},
    }
    assert node.converge() > 0
    assert judged(node) == {}


def test_the_lab_puts_a_rail_s_routes_back_when_its_link_comes_up_as_networkd_would(
    node: Node,
) -> None:
    rail1 = next(n for n in node.nics() if n["fabric"] == "compute" and n["rail"] == 1)
    node.sh(f"ip link set dev {rail1['netdev']} down; ip link set dev {rail1['netdev']} up")
    assert judged(node) == {"nic.routing": {f"nic:{HOST}/rail1"}}  # the kernel dropped them
    restored = restore_rail_routing(node.env.lab.node_record(HOST))
    assert judged(node) == {}
    assert len(restored) == 2 * len(node.nics()) - sum(1 for n in node.nics() if not n["gateway"])

"""What the node makes of `ip -j` and /proc/self/mounts, in the forms the tools print."""

from __future__ import annotations

import doctest
import json

import pytest

from bringup.validation import node as node_module
from bringup.validation.collect import NodeOutputs
from bringup.validation.expected import read_expectation
from bringup.validation.node import Node, NodeProblem, Route, Rule
from tests.unit.validation.conftest import CPU, host_vars

# iproute2 6.1's output, a rail's rule and table added as the doca_ofed role adds them
IP_RULE = (
    '[{"priority":0,"src":"all","table":"local"},'
    '{"priority":1001,"src":"10.128.0.1","table":"1001"},'
    '{"priority":1500,"src":"10.0.0.0","srclen":8,"table":"main"},'
    '{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]'
)
IP_ROUTE = (
    '[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},'
    '{"dst":"10.128.0.0/26","dev":"ibp24s0","protocol":"kernel","scope":"link",'
    '"prefsrc":"10.128.0.1","flags":[]},'
    '{"dst":"10.128.0.0/26","dev":"ibp24s0","table":"1001","scope":"link",'
    '"prefsrc":"10.128.0.1","flags":["linkdown"]},'
    '{"dst":"default","gateway":"10.128.0.62","dev":"ibp24s0","table":"1001","flags":[]},'
    '{"type":"local","dst":"10.128.0.1","dev":"ibp24s0","table":"local","protocol":"kernel",'
    '"scope":"host","prefsrc":"10.128.0.1","flags":[]}]'
)
MOUNTS = (
    "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
    "tmpfs /mnt/shared tmpfs rw,relatime,size=1048576k 0 0\n"
    "10.96.255.250:/export/shared /mnt/shared nfs4 rw,noatime,vers=4.2,proto=tcp 0 0\n"
    "tmpfs /mnt/with\\040space tmpfs rw,nodev 0 0\n"
)


def node(sections: dict[str, tuple[str, int]]) -> Node:
    expected = read_expectation(host_vars(CPU)).expected
    return Node(expected, NodeOutputs(CPU, sections))


def test_rules_keep_their_source_prefix_and_table() -> None:
    rules = node({"ip-rule": (IP_RULE, 0)}).rules
    assert rules[1] == Rule(1001, "10.128.0.1", "1001")
    assert rules[2] == Rule(1500, "10.0.0.0/8", "main")
    assert [r.text for r in rules][-1] == "32767: from all lookup default"


def test_routes_name_their_table_main_where_ip_prints_none() -> None:
    routes = node({"ip-route": (IP_ROUTE, 0)}).routes
    assert routes[0] == Route("main", "default", "192.0.2.1", "eth0", "")
    assert routes[2] == Route("1001", "10.128.0.0/26", "", "ibp24s0", "10.128.0.1")
    assert routes[3].text == "default via 10.128.0.62 dev ibp24s0"
    assert routes[4].destination == "10.128.0.1/32"  # a host route, with its length


def test_an_empty_ip_output_is_no_entry_and_garbage_is_a_problem() -> None:
    assert node({"ip-rule": ("\n", 0)}).rules == ()
    bad = node({"ip-route": ("Error: ...", 0)})
    with pytest.raises(NodeProblem, match=r"ip-route: unreadable"):
        _ = bad.routes


def test_the_mtu_is_read_from_ip_addr() -> None:
    text = json.dumps([{"ifname": "ibp24s0", "flags": ["UP"], "mtu": 4092, "addr_info": []}])
    assert node({"ip-addr": (text, 0)}).links["ibp24s0"].mtu == 4092


def test_mount_options_are_the_last_mount_s_and_mounts_keep_their_shape() -> None:
    read = node({"mounts": (MOUNTS, 0)})
    assert read.mount_options["/mnt/shared"] == "rw,noatime,vers=4.2,proto=tcp"
    assert read.mount_options["/mnt/with space"] == "rw,nodev"
    assert read.mounts["/mnt/shared"] == ("10.96.255.250:/export/shared", "nfs4")


def test_the_examples_hold() -> None:
    assert doctest.testmod(node_module).failed == 0

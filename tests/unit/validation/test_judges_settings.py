"""The judges of what the roles set on a node: each rail's MTU, IPoIB mode and routing (a rule
and a table per rail), and each mount's options. A healthy node passes every one of them; a
node that lost or changed one is named by its rail or its mount."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bringup.validation.checks import Check
from bringup.validation.collect import ipoib_mode_section
from bringup.validation.judges import JUDGES, run_judge
from bringup.validation.report import Finding
from tests.unit.validation.conftest import CPU, HGX, TRAY, NodeCase

SETTINGS = (Check.NIC_MTU, Check.NIC_IPOIB_MODE, Check.NIC_ROUTING, Check.STORAGE_OPTIONS)


def ip_json(case: NodeCase, section: str) -> list[dict[str, Any]]:
    """A healthy node's `ip -j` section, to change and put back with `put`."""
    data: list[dict[str, Any]] = json.loads(case.node().outputs.text(section))
    return data


def put(case: NodeCase, section: str, data: list[dict[str, Any]]) -> None:
    case.overrides[section] = (json.dumps(data), 0)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.line() for f in findings]
    return findings[0]


@pytest.mark.parametrize("name", [HGX, TRAY, CPU])
@pytest.mark.parametrize("plan", ["lab", "tuned"])
def test_a_healthy_node_passes_what_applies_to_it(
    make_case: Callable[[str], NodeCase],
    make_tuned_case: Callable[[str], NodeCase],
    name: str,
    plan: str,
) -> None:
    node = (make_case if plan == "lab" else make_tuned_case)(name).node()
    skipped = {c for c in SETTINGS if JUDGES[c].skip_reason(node) is not None}
    assert skipped == ({Check.NIC_IPOIB_MODE} if name == CPU else set())  # no IPoIB on a CPU node
    assert {c: [f.line() for f in run_judge(c, node)] for c in SETTINGS} == {
        c: [] for c in SETTINGS
    }


def test_an_mtu_other_than_planned_names_the_rail(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    links = ip_json(case, "ip-addr")
    netdev = case.host.expected.nics[2].netdev
    for link in links:
        if link["ifname"] == netdev:
            link["mtu"] = 2044
    put(case, "ip-addr", links)
    finding = only(run_judge(Check.NIC_MTU, case.node()))
    assert finding.component == f"nic:{HGX}/rail3"
    assert finding.attributes["netdev"] == netdev
    assert (finding.observed, finding.expected) == ("mtu 2044", "mtu 4092")


def test_datagram_where_connected_is_planned_names_the_rail(
    make_tuned_case: Callable[[str], NodeCase],
) -> None:
    case = make_tuned_case(TRAY)
    nic = case.host.expected.nics[1]
    assert nic.ipoib_mode == "connected"
    case.overrides[ipoib_mode_section(nic)] = ("datagram\n", 0)  # openibd's default again
    finding = only(run_judge(Check.NIC_IPOIB_MODE, case.node()))
    assert finding.component == f"nic:{TRAY}/rail2"
    assert (finding.observed, finding.expected) == ("datagram mode", "connected mode")


def test_a_netdev_without_a_mode_is_not_ipoib(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    nic = case.host.expected.nics[0]
    gone = f"cat: /sys/class/net/{nic.netdev}/mode: No such file or directory\n"
    case.overrides[ipoib_mode_section(nic)] = (gone, 1)
    finding = only(run_judge(Check.NIC_IPOIB_MODE, case.node()))
    assert finding.component == f"nic:{HGX}/rail1"
    assert finding.observed == f"exit status 1: {gone.strip()}"


def test_a_missing_rule_names_the_rail(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    nic = case.host.expected.nics[1]
    rules = ip_json(case, "ip-rule")
    put(case, "ip-rule", [r for r in rules if r.get("src") != nic.address])
    finding = only(run_judge(Check.NIC_ROUTING, case.node()))
    assert finding.component == f"nic:{HGX}/rail2"
    assert finding.observed == f"no rule from {nic.address} to table 1002"
    assert finding.expected == (
        f"from {nic.address} lookup 1002 at priority 1002; "
        f"table 1002: {nic.subnet} dev {nic.netdev} src {nic.address}"
    )


def test_a_rule_at_another_priority_is_named(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    nic = case.host.expected.nics[0]
    rules = ip_json(case, "ip-rule")
    put(
        case,
        "ip-rule",
        [r | {"priority": 40000} if r.get("src") == nic.address else r for r in rules],
    )
    finding = only(run_judge(Check.NIC_ROUTING, case.node()))
    assert finding.observed == f"rule from {nic.address} to table 1001 at priority 40000, not 1001"


def test_a_missing_default_route_names_the_routed_rail(
    make_case: Callable[[str], NodeCase],
) -> None:
    case = make_case(CPU)
    nic = next(n for n in case.host.expected.nics if n.label == "storage1")
    assert (nic.table, nic.gateway) == (2001, "10.96.0.62")
    routes = ip_json(case, "ip-route")
    kept = [r for r in routes if (r.get("table"), r["dst"]) != ("2001", "default")]
    assert len(kept) == len(routes) - 1
    put(case, "ip-route", kept)
    finding = only(run_judge(Check.NIC_ROUTING, case.node()))
    assert finding.component == f"nic:{CPU}/storage1"
    assert finding.observed == f"table 2001: default via 10.96.0.62 dev {nic.netdev} missing"
    assert f"{nic.subnet} dev {nic.netdev} src {nic.address} table 2001" in finding.evidence


def test_a_subnet_route_from_another_source_is_named_with_what_is_there(
    make_case: Callable[[str], NodeCase],
) -> None:
    case = make_case(TRAY)
    nic = case.host.expected.nics[3]
    routes = ip_json(case, "ip-route")
    for route in routes:
        if route.get("table") == str(nic.table):
            route["prefsrc"] = "10.128.9.9"
    put(case, "ip-route", routes)
    finding = only(run_judge(Check.NIC_ROUTING, case.node()))
    assert finding.component == f"nic:{TRAY}/rail4"
    assert finding.observed == (
        f"table 1004: {nic.subnet} dev {nic.netdev} src {nic.address} missing "
        f"(has {nic.subnet} dev {nic.netdev} src 10.128.9.9)"
    )


def test_a_rail_set_down_is_left_to_the_link_checks(make_case: Callable[[str], NodeCase]) -> None:
    """The kernel drops the routes of a netdev set down; nic.carrier names it, not routing."""
    case = make_case(HGX)
    nic = case.host.expected.nics[4]
    links = ip_json(case, "ip-addr")
    for link in links:
        if link["ifname"] == nic.netdev:
            link["flags"] = ["BROADCAST", "MULTICAST"]
    put(case, "ip-addr", links)
    put(case, "ip-route", [r for r in ip_json(case, "ip-route") if r.get("dev") != nic.netdev])
    node = case.node()
    assert run_judge(Check.NIC_ROUTING, node) == []
    assert only(run_judge(Check.NIC_CARRIER, node)).component == f"nic:{HGX}/rail5"


def test_routing_unreadable_is_a_node_finding(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(CPU)
    case.overrides["ip-rule"] = ('Option "-j" is unknown, try "ip -help".\n', 255)
    finding = only(run_judge(Check.NIC_ROUTING, case.node()))
    assert (finding.component, finding.expected) == (f"node:{CPU}", "readable ip-rule output")


def test_a_mount_without_a_planned_flag_names_the_mount(
    make_tuned_case: Callable[[str], NodeCase],
) -> None:
    case = make_tuned_case(CPU)
    mounts = case.node().outputs.text("mounts")
    assert "tmpfs /mnt/shared tmpfs rw,noatime,nodev,vers=4.2 0 0" in mounts
    live = "rw,relatime,size=1048576k,vers=4.2"
    case.overrides["mounts"] = (mounts.replace("rw,noatime,nodev,vers=4.2", live), 0)
    finding = only(run_judge(Check.STORAGE_OPTIONS, case.node()))
    assert finding.component == f"mount:{CPU}/mnt/shared"
    assert finding.observed == f"noatime, nodev not in effect ({live})"
    assert finding.expected == "noatime,nodev,vers=4.2"


def test_a_mount_at_another_version_and_one_not_mounted(
    make_tuned_case: Callable[[str], NodeCase],
) -> None:
    case = make_tuned_case(HGX)
    mounts = case.node().outputs.text("mounts")
    case.overrides["mounts"] = (mounts.replace("vers=4.2", "vers=3"), 0)
    assert only(run_judge(Check.STORAGE_OPTIONS, case.node())).observed.startswith("vers=4.2 ")
    case.profile["mounts"].remove("/mnt/shared")
    case.overrides.clear()
    assert run_judge(Check.STORAGE_OPTIONS, case.node()) == []  # storage.mount names it

"""hosts.yml: every node once with its address, and the groups Ansible and the scheduler use."""

from __future__ import annotations

from typing import Any

import pytest

from bringup.catalog import load_catalog
from bringup.plan import Plan
from bringup.plan.expectation import management_address
from bringup.render import render_cluster_files

from .conftest import DNS_LABEL, group_hosts, lab_data, load_yaml, plan_of, stack_plan


def _inventory(plan: Plan) -> dict[str, Any]:
    inventory: dict[str, Any] = load_yaml(render_cluster_files(plan, "t")["hosts.yml"])
    return inventory


@pytest.fixture(scope="module")
def inventory(lab: Plan) -> dict[str, Any]:
    return _inventory(lab)


def _groups(inventory: dict[str, Any], prefix: str) -> dict[str, set[str]]:
    return {
        name: group_hosts(inventory, name)
        for name in inventory["all"]["children"]
        if name.startswith(prefix)
    }


def test_every_node_is_listed_once_with_its_management_address(
    lab: Plan, inventory: dict[str, Any]
) -> None:
    hosts = inventory["all"]["hosts"]  # load_yaml fails on a host listed twice
    assert set(hosts) == {n.name for n in lab.nodes}
    assert len(hosts) == len(lab.nodes)
    for node in lab.nodes:
        assert hosts[node.name] == {"ansible_host": management_address(lab, node)}


def test_a_node_off_the_inband_fabric_has_no_ansible_host() -> None:
    data = lab_data()
    data["racks"][2]["fabrics"] = ["oob"]  # the CPU node: BMC only
    hosts = _inventory(plan_of(data))["all"]["hosts"]
    assert hosts["lab-h1-r01-k03-n1"] == {}
    assert hosts["lab-h1-r01-k01-n1"] == {"ansible_host": "10.64.0.1"}


def test_every_node_is_in_exactly_one_rack_and_one_sku_group(
    lab: Plan, inventory: dict[str, Any]
) -> None:
    racks = _groups(inventory, "rack-")
    skus = _groups(inventory, "sku-")
    assert set(racks) == {f"rack-{r.name}" for r in lab.racks}
    assert set(skus) == {"sku-hgx-h100", "sku-gb200-nvl72", "sku-cpu"}
    for node in lab.nodes:
        assert [g for g, hosts in racks.items() if node.name in hosts] == [f"rack-{node.rack}"]
        assert [g for g, hosts in skus.items() if node.name in hosts] == [f"sku-{node.sku}"]


def test_group_names_are_dns_labels(inventory: dict[str, Any]) -> None:
    names = list(inventory["all"]["children"])
    assert names == sorted(names)
    bad = [name for name in names if not DNS_LABEL.match(name)]
    assert not bad, f"not DNS labels: {bad}"


def test_system_class_groups_hold_their_sku_groups(inventory: dict[str, Any]) -> None:
    children = inventory["all"]["children"]
    assert children["hgx"] == {"children": {"sku-hgx-h100": {}}}
    assert children["nvl72"] == {"children": {"sku-gb200-nvl72": {}}}
    assert children["cpu"] == {"children": {"sku-cpu": {}}}


def test_class_groups_exist_even_when_empty() -> None:
    data = lab_data()
    data["racks"] = [r for r in data["racks"] if r["sku"] == "hgx-h100"]
    children = _inventory(plan_of(data))["all"]["children"]
    assert children["nvl72"] == {}
    assert children["cpu"] == {}


def test_nvl72_domain_groups_hold_the_18_trays(lab: Plan, inventory: dict[str, Any]) -> None:
    domains = _groups(inventory, "nvl-")
    assert domains == {
        "nvl-lab-h1-r01-k02-nvl1": {f"lab-h1-r01-k02-t{i:02d}" for i in range(1, 19)}
    }


def test_partitioned_nvl72_racks_get_one_group_per_domain() -> None:
    data = lab_data()
    data["racks"][1]["nvlink"] = {"domain_trays": 9}
    domains = _groups(_inventory(plan_of(data)), "nvl-")
    assert {name: len(hosts) for name, hosts in domains.items()} == {
        "nvl-lab-h1-r01-k02-nvl1": 9,
        "nvl-lab-h1-r01-k02-nvl2": 9,
    }


def test_su_groups_hold_their_racks(lab: Plan, inventory: dict[str, Any]) -> None:
    assert _groups(inventory, "su-") == {"su-01": {n.name for n in lab.nodes}}
    h100 = stack_plan("h100-4su")
    sus = _groups(_inventory(h100), "su-")
    assert set(sus) == {"su-01", "su-02", "su-03", "su-04"}
    for su, hosts in sus.items():
        assert hosts == {n.name for n in h100.nodes if n.su == int(su[3:])}


def test_fabric_plane_groups_hold_exactly_the_fabrics_node_endpoints(
    lab: Plan, inventory: dict[str, Any]
) -> None:
    planes = _groups(inventory, "fabric-")
    trees = [fp for fp in lab.fabrics if fp.is_tree]
    assert set(planes) == {f"fabric-{fp.name}-p1" for fp in trees}  # no group for oob
    for fp in trees:
        assert planes[f"fabric-{fp.name}-p1"] == {e.name for e in fp.endpoints}
    assert "lab-h1-r01-k03-n1" not in planes["fabric-compute-p1"]  # the CPU node has no HCA


def test_fabric_plane_groups_leave_out_appliances() -> None:
    h100 = stack_plan("h100-4su")
    planes = _groups(_inventory(h100), "fabric-compute-")
    compute = h100.fabric("compute")
    assert "ufm" in compute.by_name
    assert planes == {"fabric-compute-p1": {n.name for n in h100.nodes}}


def test_every_plane_of_a_multiplane_fabric_has_its_group() -> None:
    data = lab_data()
    data["fabrics"][0].update(planes=2, speed_gbps=200)
    plan = plan_of(data)
    planes = _groups(_inventory(plan), "fabric-compute-")
    members = {e.name for e in plan.fabric("compute").endpoints}
    assert planes == {"fabric-compute-p1": members, "fabric-compute-p2": members}


def test_partitions_one_per_gpu_sku_and_one_for_cpu(lab: Plan, inventory: dict[str, Any]) -> None:
    partitions = _groups(inventory, "partition-")
    assert set(partitions) == {"partition-hgx-h100", "partition-gb200-nvl72", "partition-cpu"}
    for name, hosts in partitions.items():
        sku = name.removeprefix("partition-")
        assert hosts == {n.name for n in lab.nodes if n.sku == sku}
    cpu_skus = {n.sku for n in lab.nodes if n.name in partitions["partition-cpu"]}
    assert cpu_skus == {"cpu"}
    assert load_catalog().sku("cpu").gpu is None

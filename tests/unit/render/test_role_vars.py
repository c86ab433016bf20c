"""The roles' variables in the rendered inventory: read off the plan, split by role, typed by
the roles' argument specs (tests/unit/roles checks them against every spec)."""

from __future__ import annotations

import pytest

from bringup.catalog import load_catalog
from bringup.plan import Plan, node_expectation
from bringup.render.role_vars import (
    PACKAGE_ROLES,
    cluster_role_vars,
    host_role_vars,
    package_role,
    sku_role_vars,
)
from bringup.spec import CUDA_REPOSITORY

from .conftest import lab_data, load_yaml, plan_of

ROLE_PREFIXES = {role for _, role in PACKAGE_ROLES}


def test_every_catalog_package_belongs_to_exactly_one_role() -> None:
    for sku in load_catalog().skus.values():
        for package in sku.software.packages if sku.software else ():
            matches = [r for prefix, r in PACKAGE_ROLES if package.name.startswith(prefix)]
            assert matches[:1] == [package_role(package.name)], package.name
            assert package_role(package.name) in ROLE_PREFIXES


def test_a_package_no_role_installs_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="package 'nvidia-persistenced': no role installs it"):
        package_role("nvidia-persistenced")


def test_the_rendered_files_carry_the_role_variables(lab: Plan, lab_files: dict[str, str]) -> None:
    def role_keys(path: str) -> dict[str, object]:
        data = load_yaml(lab_files[path])
        return {k: v for k, v in data.items() if not k.startswith("bringup_")}

    assert role_keys("group_vars/all.yml") == cluster_role_vars(lab)
    for sku in ("cpu", "gb200-nvl72", "hgx-h100"):
        assert role_keys(f"group_vars/sku-{sku}.yml") == sku_role_vars(lab, sku)
    for node in lab.nodes:
        expected = node_expectation(lab, node)
        assert role_keys(f"host_vars/{node.name}.yml") == host_role_vars(expected), node.name


def test_each_sku_s_packages_are_split_between_the_roles_that_install_them(lab: Plan) -> None:
    hgx = sku_role_vars(lab, "hgx-h100")
    pinned = {p.name for p in lab.software["hgx-h100"].packages}
    split = {p["name"] for k, v in hgx.items() if k.endswith("_packages") for p in v}
    assert split == pinned
    assert hgx["nvlink_imex_packages"] == []
    assert hgx["nvlink_nvlsm_packages"] == []
    assert [p["name"] for p in hgx["nvidia_driver_packages"]] == ["nvidia-driver-570-open"]
    assert hgx["cuda_version"] == "12.8"
    assert hgx["burn_in_dcgm_diag_level"] == 3
    assert hgx["burn_in_gpu_count"] == 8
    assert hgx["burn_in_thresholds"]["ib_write_bw_gbps"] == 380.0
    assert sku_role_vars(lab, "cpu") == {"doca_ofed_packages": []}


def test_b200_gets_nvlsm_and_nvsdm_from_the_nvlink_role() -> None:
    data = lab_data()
    data["racks"][0]["sku"] = "hgx-b200"
    plan = plan_of(data)
    names = [p["name"] for p in sku_role_vars(plan, "hgx-b200")["nvlink_nvlsm_packages"]]
    assert names == ["libnvsdm-570", "nvlsm"]


def test_a_tray_lists_every_tray_of_its_domain_and_an_hgx_node_none(lab: Plan) -> None:
    tray = host_role_vars(node_expectation(lab, lab.node("lab-h1-r01-k02-t07")))
    assert tray["nvlink_imex_enabled"] is True
    assert tray["nvlink_imex_owner"] == "host"
    assert tray["nvlink_domain"] == "lab-h1-r01-k02-nvl1"
    assert tray["nvlink_imex_peers"] == [f"10.64.0.{i}" for i in range(3, 21)]
    hgx = host_role_vars(node_expectation(lab, lab.node("lab-h1-r01-k01-n1")))
    assert hgx["nvlink_imex_enabled"] is False
    assert hgx["nvlink_imex_peers"] == []
    cpu = host_role_vars(node_expectation(lab, lab.node("lab-h1-r01-k03-n1")))
    assert "nvlink_domain" not in cpu
    assert "burn_in_hcas" not in cpu


def test_where_the_dra_driver_runs_imex_the_host_runs_none_and_lists_no_peers() -> None:
    data = lab_data()
    data["scheduler"] = {"kind": "kubernetes", "imex": "dra-driver"}
    plan = plan_of(data)
    tray = host_role_vars(node_expectation(plan, plan.node("lab-h1-r01-k02-t07")))
    assert tray["nvlink_imex_owner"] == "dra-driver"
    assert tray["nvlink_imex_enabled"] is False  # the host does not run it
    assert tray["nvlink_imex_peers"] == []  # no nodes config is written
    hgx = host_role_vars(node_expectation(plan, plan.node("lab-h1-r01-k01-n1")))
    assert (hgx["nvlink_imex_owner"], hgx["nvlink_imex_enabled"]) == ("dra-driver", False)
    # the driver's daemons run the host's nvidia-imex: the package stays pinned
    pins = sku_role_vars(plan, "gb200-nvl72")["nvlink_imex_packages"]
    assert [p["name"] for p in pins] == ["nvidia-imex-570"]


def test_interfaces_carry_the_planned_address_prefix_and_mtu(lab: Plan) -> None:
    node = lab.node("lab-h1-r01-k01-n1")
    expected = node_expectation(lab, node)
    interfaces = host_role_vars(expected)["doca_ofed_interfaces"]
    assert len(interfaces) == len(expected.nics) == 12
    by_name = {i["name"]: i for i in interfaces}
    assert by_name["ibp24s0"]["address"] == "10.128.0.1/26"
    assert by_name["ibp24s0"]["mtu"] == 4092
    assert by_name["enp170s0f0np0"]["mtu"] == 9000  # storage, RoCE
    assert by_name["enp170s0f1np1"]["mtu"] == 1500  # in-band
    hcas = host_role_vars(expected)["burn_in_hcas"]
    assert [h["device"] for h in hcas][:2] == ["mlx5_0", "mlx5_3"]
    assert len(hcas) == 8


def test_mounts_come_from_the_storage_systems(lab: Plan) -> None:
    mounts = host_role_vars(node_expectation(lab, lab.nodes[0]))["storage_client_mounts"]
    assert mounts == [
        {
            "name": "shared",
            "fstype": "nfs",
            "src": "10.96.255.250:/export/shared",
            "path": "/mnt/shared",
            "opts": "defaults",
        }
    ]


def test_the_repository_comes_from_the_stack_with_nvidia_s_as_default(lab: Plan) -> None:
    assert cluster_role_vars(lab) == {
        "nvidia_driver_repository": "deb [trusted=yes] file:/srv/bringup-lab/repo ./"
    }
    data = lab_data()
    del data["package_repository"]
    assert cluster_role_vars(plan_of(data))["nvidia_driver_repository"] == CUDA_REPOSITORY
    assert CUDA_REPOSITORY.startswith("deb [signed-by=/usr/share/keyrings/cuda-archive-keyring")

"""playbooks/check_inventory.yml on rendered lab inventories: it passes on what bringup renders,
and refuses a broken inventory with a message that names the variable, before any connection
(the hosts of these inventories are not up: a connection attempt would fail the run anyway)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from bringup.plan import make_plan
from bringup.spec import load_cluster, parse_cluster

from .conftest import (
    BIN,
    PLAYBOOKS,
    STACKS,
    ansible_env,
    checked_roles,
    render_inventory,
    write_inventory,
)

PLAN = make_plan(load_cluster(STACKS / "Pulumi.lab.yaml"))


def check(inventory: Path) -> subprocess.CompletedProcess[str]:
    """Run the inventory check the way provision.yml imports it."""
    roles = json.dumps({"check_inventory_roles": checked_roles("provision.yml")})
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), "-e", roles]
    argv.append(str(PLAYBOOKS / "check_inventory.yml"))
    return subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), timeout=300)


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    for rel, text in render_inventory(PLAN, "lab").items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


def test_the_rendered_lab_inventory_passes(inventory: Path) -> None:
    result = check(inventory / "hosts.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "ok=" in result.stdout
    assert "failed=0" in result.stdout


def test_a_missing_package_list_is_named(inventory: Path) -> None:
    edit(inventory / "group_vars/sku-hgx-h100.yml", nvidia_driver_packages=None)
    result = check(inventory / "hosts.yml")
    assert result.returncode != 0
    assert "missing required arguments: nvidia_driver_packages" in result.stdout


def test_a_mistyped_mtu_is_named(inventory: Path) -> None:
    path = inventory / "host_vars/lab-h1-r01-k03-n1.yml"
    nics = yaml.safe_load(path.read_text())["doca_ofed_interfaces"]
    nics[0]["mtu"] = "jumbo"
    edit(path, doca_ofed_interfaces=nics)
    result = check(inventory / "hosts.yml")
    assert result.returncode != 0
    assert "mtu" in result.stdout
    assert "doca_ofed_interfaces" in result.stdout


def test_a_bad_repository_line_is_named(inventory: Path) -> None:
    edit(inventory / "group_vars/all.yml", nvidia_driver_repository="file:/srv/repo")
    result = check(inventory / "hosts.yml")
    assert result.returncode != 0
    assert "nvidia_driver_repository: expected one apt source line" in result.stdout


def test_a_tray_whose_imex_peers_differ_from_its_domain_s_is_named(inventory: Path) -> None:
    path = inventory / "host_vars/lab-h1-r01-k02-t05.yml"
    peers = yaml.safe_load(path.read_text())["nvlink_imex_peers"]
    edit(path, nvlink_imex_peers=[*peers[1:], peers[0]])
    result = check(inventory / "hosts.yml")
    assert result.returncode != 0
    assert "nvlink_imex_peers of lab-h1-r01-k02-t05 differ from those of lab-h1-r01-k02-t01" in (
        result.stdout
    )


def test_an_inventory_whose_trays_leave_imex_to_the_dra_driver_passes(tmp_path: Path) -> None:
    data = yaml.safe_load((STACKS / "Pulumi.lab.yaml").read_text())["config"]["bringup:cluster"]
    data["scheduler"] = {"kind": "kubernetes", "imex": "dra-driver"}
    hosts = write_inventory(render_inventory(make_plan(parse_cluster(data)), "lab"), tmp_path)
    tray = yaml.safe_load((tmp_path / "host_vars/lab-h1-r01-k02-t05.yml").read_text())
    assert (tray["nvlink_imex_owner"], tray["nvlink_imex_peers"]) == ("dra-driver", [])
    result = check(hosts)
    assert result.returncode == 0, result.stdout[-3000:]


def test_an_unknown_imex_owner_is_named(inventory: Path) -> None:
    edit(inventory / "host_vars/lab-h1-r01-k02-t05.yml", nvlink_imex_owner="gpu-operator")
    result = check(inventory / "hosts.yml")
    assert result.returncode != 0
    assert "nvlink_imex_owner" in result.stdout
    assert "gpu-operator" in result.stdout

"""What the renderers return: which files, their headers, their YAML, their determinism."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from bringup.plan import Plan, node_expectation
from bringup.plan.scheduler import kubernetes_labels, slurm_topology
from bringup.render import content_hash, render_cluster_files, render_rack_files

from .conftest import HEADER, load_yaml, render_all

TOP_LEVEL_KEYS = {
    "hosts.yml": {"all"},
    "group_vars/all.yml": {
        "bringup_cluster",
        "bringup_site",
        "bringup_stack",
        "bringup_scheduler",
        "bringup_fabrics",
        "bringup_storage",
    },
    "group_vars/sku-hgx-h100.yml": {"bringup_sku", "bringup_software", "bringup_thresholds"},
    "group_vars/sku-gb200-nvl72.yml": {"bringup_sku", "bringup_software", "bringup_thresholds"},
    "group_vars/sku-cpu.yml": {"bringup_sku", "bringup_thresholds"},
}
HOST_KEYS = {"bringup_expected", "bringup_kubernetes_labels"}


def test_cluster_files_are_the_whole_cluster_files(lab: Plan) -> None:
    assert set(render_cluster_files(lab, "lab")) == {
        "hosts.yml",
        "group_vars/all.yml",
        "group_vars/sku-cpu.yml",
        "group_vars/sku-gb200-nvl72.yml",
        "group_vars/sku-hgx-h100.yml",
        "cabling.csv",
        "topology.conf",
        "bom.json",
    }


def test_rack_files_are_the_host_vars_of_that_rack_only(lab: Plan) -> None:
    for rack in lab.racks:
        expected = {f"host_vars/{n.name}.yml" for n in lab.nodes if n.rack == rack.name}
        assert set(render_rack_files(lab, "lab", rack.name)) == expected
    assert len(render_rack_files(lab, "lab", "lab-h1-r01-k02")) == 18


def test_unknown_rack_is_named(lab: Plan) -> None:
    with pytest.raises(ValueError, match="rack 'lab-h1-r01-k09': not in the plan of cluster 'lab'"):
        render_rack_files(lab, "lab", "lab-h1-r01-k09")


def test_rendering_twice_gives_the_same_bytes(lab: Plan, lab_files: dict[str, str]) -> None:
    assert render_all(lab, "lab") == lab_files
    for files in (
        render_cluster_files(lab, "lab"),
        *(render_rack_files(lab, "lab", rack.name) for rack in lab.racks),
    ):
        assert list(files) == sorted(files)


def test_generated_files_start_with_the_do_not_edit_header(lab_files: dict[str, str]) -> None:
    for path, text in lab_files.items():
        if path.endswith((".yml", ".conf")):
            assert text.startswith(HEADER.format("lab")), path
        else:
            assert text.startswith(("{", "cable_id,")), path
        assert text.endswith("\n"), path
        assert not text.endswith("\n\n"), path


def test_stack_name_is_in_the_header_and_in_all_yml(lab: Plan) -> None:
    files = render_cluster_files(lab, "staging")
    assert files["hosts.yml"].startswith(HEADER.format("staging"))
    assert load_yaml(files["group_vars/all.yml"])["bringup_stack"] == "staging"


def test_every_yaml_file_parses_with_its_bringup_keys(lab_files: dict[str, str]) -> None:
    yaml_files = {p: t for p, t in lab_files.items() if p.endswith(".yml")}
    assert set(TOP_LEVEL_KEYS) <= set(yaml_files)
    for path, text in yaml_files.items():
        data = yaml.safe_load(text)
        keys = TOP_LEVEL_KEYS.get(path, HOST_KEYS if path.startswith("host_vars/") else None)
        assert keys is not None, f"no expectation for {path}"
        assert {k for k in data if k.startswith("bringup_") or k == "all"} == keys, path
        assert "&id0" not in text, f"{path} has YAML anchors"


def test_host_vars_read_back_as_the_plans_expectation(lab: Plan, lab_files: dict[str, str]) -> None:
    for node in lab.nodes:
        data = load_yaml(lab_files[f"host_vars/{node.name}.yml"])
        assert data["bringup_expected"] == node_expectation(lab, node).to_json(), node.name
        assert data["bringup_kubernetes_labels"] == kubernetes_labels(lab, node), node.name


def test_all_yml_describes_cluster_fabrics_and_storage(lab_files: dict[str, str]) -> None:
    data = load_yaml(lab_files["group_vars/all.yml"])
    assert (data["bringup_cluster"], data["bringup_site"]) == ("lab", "lab")
    assert data["bringup_scheduler"] == {"kind": "slurm", "cluster_name": "lab"}
    assert [f["name"] for f in data["bringup_fabrics"]] == ["compute", "inband", "oob", "storage"]
    compute = data["bringup_fabrics"][0]
    assert compute == {
        "name": "compute",
        "kind": "infiniband",
        "role": "compute",
        "switch": "qm9700",
        "speed_gbps": 400,
        "planes": 1,
        "cidr": "10.128.0.0/16",
    }
    assert [(s["name"], s["mount"]) for s in data["bringup_storage"]] == [("shared", "/mnt/shared")]


def test_sku_group_vars_carry_the_plans_software_and_thresholds(
    lab: Plan, lab_files: dict[str, str]
) -> None:
    for sku in ("hgx-h100", "gb200-nvl72", "cpu"):
        data = load_yaml(lab_files[f"group_vars/sku-{sku}.yml"])
        assert data["bringup_sku"]["id"] == sku
        assert data["bringup_thresholds"] == lab.thresholds[sku].model_dump(mode="json")
        if sku in lab.software:
            assert data["bringup_software"] == lab.software[sku].model_dump(mode="json")
    nvl72 = load_yaml(lab_files["group_vars/sku-gb200-nvl72.yml"])["bringup_sku"]
    assert (nvl72["system_class"], nvl72["nvlink"]["scope"]) == ("nvl72", "rack")
    assert load_yaml(lab_files["group_vars/sku-cpu.yml"])["bringup_sku"]["gpu"] is None


def test_topology_conf_is_the_plans_slurm_topology(lab: Plan, lab_files: dict[str, str]) -> None:
    assert lab_files["topology.conf"] == HEADER.format("lab") + slurm_topology(lab).render()


def test_content_hash_is_the_sha256_of_the_utf8_text() -> None:
    text = "bringup_site: sjc1 — hall 1\n"
    assert content_hash(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert content_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert content_hash("a") != content_hash("a\n")

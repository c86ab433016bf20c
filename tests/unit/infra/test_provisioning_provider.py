"""The Provisioning provider, called directly, with a real Ansible run on a local connection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bringup.access import Access
from bringup.infra.provisioning import ProvisioningProvider, text_hash
from bringup.workspace import Workspace

PLAYBOOK = """
- name: Converge
  hosts: all
  gather_facts: false
  tasks:
    - name: Converge | Write the marker
      ansible.builtin.copy:
        dest: "{{ marker_dir }}/{{ inventory_hostname }}"
        content: "{{ inventory_hostname }}\\n"
        mode: "0644"
    - name: Converge | Fail where asked
      ansible.builtin.fail:
        msg: "dcgmi diag failed on GPU 3"
      when: inventory_hostname in fail_on
"""


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRINGUP_ROOT", str(tmp_path))
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "provision.yml").write_text(PLAYBOOK)
    local = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    inventory = tmp_path / "inventory" / "t" / "hosts.yml"
    inventory.parent.mkdir(parents=True)
    hosts = {f"n{i}": local for i in range(1, 5)}
    variables = {"marker_dir": str(tmp_path / "markers"), "fail_on": ["n4"]}
    inventory.write_text(json.dumps({"all": {"hosts": hosts, "vars": variables}}))
    (tmp_path / "markers").mkdir()
    return tmp_path


def _props(hosts: list[str], vars_hash: str = "v1") -> dict[str, object]:
    return {
        "stack": "t",
        "rack": "r1",
        "hosts": hosts,
        "inventory": "inventory/t/hosts.yml",
        # a playbook of the test's own project (absolute: not the repository's)
        "playbook": str(Workspace.here().root / "playbooks" / "provision.yml"),
        "vars_hash": vars_hash,
        "roles_hash": "x",
        "results": None,
    }


def test_create_converges_only_the_racks_hosts(root: Path) -> None:
    result = ProvisioningProvider(Access()).create(_props(["n1", "n2"]))
    assert sorted(p.name for p in (root / "markers").iterdir()) == ["n1", "n2"]
    assert result.outs["hosts"] == ["n1", "n2"]
    assert {h: r["status"] for h, r in result.outs["results"].items()} == {
        "n1": "changed",
        "n2": "changed",
    }
    assert result.id == "t/r1"


def test_a_failed_host_fails_the_resource_naming_host_and_task(root: Path) -> None:
    with pytest.raises(RuntimeError) as error:
        ProvisioningProvider(Access()).create(_props(["n3", "n4"]))
    message = str(error.value)
    assert "n4 failed at 'Converge | Fail where asked': dcgmi diag failed on GPU 3" in message
    assert "n3" not in message.split("(artifacts")[0]
    assert (root / "markers" / "n3").exists()  # the healthy host converged all the same


def test_diff_converges_again_only_when_inputs_change(root: Path) -> None:
    provider = ProvisioningProvider(Access())
    old = {**_props(["n1"]), "results": {"n1": {"status": "ok"}}}
    assert provider.diff("t/r1", old, _props(["n1"])).changes is False
    assert provider.diff("t/r1", old, _props(["n1"], vars_hash="v2")).changes is True
    assert provider.diff("t/r1", old, _props(["n1", "n2"])).changes is True


def test_hashes_follow_content(tmp_path: Path) -> None:
    (tmp_path / "roles" / "a").mkdir(parents=True)
    (tmp_path / "roles" / "a" / "main.yml").write_text("x")
    workspace = Workspace(tmp_path, repository=tmp_path)
    before = workspace.digest("roles", "playbooks")
    (tmp_path / "roles" / "a" / "main.yml").write_text("y")
    assert workspace.digest("roles", "playbooks") != before
    assert text_hash(["a", "b"]) != text_hash(["ab"])


def test_a_node_that_lost_what_it_was_converged_to_converges_its_rack_again(root: Path) -> None:
    provider = ProvisioningProvider(Access())
    old = {**_props(["n1", "n2"]), "results": {"n1": {"status": "ok"}}}
    assert provider.diff("t/r1", old, _props(["n1", "n2"])).changes is False
    stale = {**_props(["n1", "n2"]), "stale": {"n2": "no record of a converge on the node"}}
    assert provider.diff("t/r1", old, stale).changes is True


def test_the_run_leaves_each_node_its_record(root: Path) -> None:
    """The provision playbook's last role writes the marker the run was given."""
    playbook = root / "playbooks" / "provision.yml"
    playbook.write_text(
        playbook.read_text()
        + """
- name: Record
  hosts: all
  gather_facts: false
  tasks:
    - name: Record | Write the marker the run was given
      ansible.builtin.copy:
        dest: "{{ marker_dir }}/{{ inventory_hostname }}.marker"
        content: "{{ provisioned_marker }}"
        mode: "0644"
"""
    )
    result = ProvisioningProvider(Access()).create(_props(["n1"], vars_hash="v9"))
    assert (root / "markers" / "n1.marker").read_text() == "v9:x"
    assert result.outs["converged"]

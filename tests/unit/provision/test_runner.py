"""run_playbook with a real Ansible run on this machine (local connection and a dead SSH port)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bringup.provision import ProvisionRequest, ProvisionResult, TaskEvent, run_playbook
from bringup.provision.runner import (
    CONNECT_TIMEOUT_S,
    STRATEGY_VARIABLE,
    controller_cpus,
    default_forks,
)

PLAYBOOK = """
- name: Probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Probe | Read the marker
      ansible.builtin.command: "true"
      changed_when: false
    - name: Probe | Touch a file on the changing host
      ansible.builtin.file:
        path: "{{ marker }}"
        state: touch
        mode: "0644"
      when: inventory_hostname == 'changer'
    - name: Probe | Fail on the bad host
      ansible.builtin.fail:
        msg: "disk /dev/nvme9 missing"
      when: inventory_hostname == 'bad'
    - name: Probe | Carry on after the failure
      ansible.builtin.command: "true"
      changed_when: false
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    playbook = tmp_path / "probe.yml"
    playbook.write_text(PLAYBOOK)
    local = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    inventory = tmp_path / "hosts.json"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "vars": {"marker": str(tmp_path / "touched")},
                    "hosts": {
                        "steady": local,
                        "changer": local,
                        "bad": local,
                        # a closed port on loopback: SSH cannot connect
                        "gone": {
                            "ansible_host": "127.0.0.1",
                            "ansible_port": 9,
                            "ansible_connection": "ssh",
                        },
                    },
                }
            }
        )
    )
    return playbook, inventory


def request(playbook: Path, inventory: Path, tmp_path: Path, **more: Any) -> ProvisionRequest:
    more = {"retry_pauses_s": (0.1, 0.1), **more}  # "gone" is tried three times: keep it short
    return ProvisionRequest(
        playbook=playbook, inventory=inventory, private_data_dir=tmp_path / "run", **more
    )


def test_each_host_gets_its_own_verdict(project: tuple[Path, Path], tmp_path: Path) -> None:
    playbook, inventory = project
    events: list[TaskEvent] = []
    result = run_playbook(request(playbook, inventory, tmp_path), on_event=events.append)
    assert result.with_status("ok") == ["steady"]
    assert result.with_status("changed") == ["changer"]
    assert result.with_status("failed") == ["bad"]
    assert result.with_status("unreachable") == ["gone"]
    bad = result.hosts["bad"]
    assert (bad.failed_task, bad.message) == (
        "Probe | Fail on the bad host",
        "disk /dev/nvme9 missing",
    )
    assert result.hosts["gone"].message
    assert {h: r.attempts for h, r in result.hosts.items()} == {
        "steady": 1,
        "changer": 1,
        "bad": 1,
        "gone": 3,
    }
    assert not result.converged
    # the failure stopped neither the other hosts nor the play
    carry_on = TaskEvent(host="changer", task="Probe | Carry on after the failure", status="ok")
    assert carry_on in events
    assert (result.artifacts / "stdout").exists()


def test_limit_and_check_mode(project: tuple[Path, Path], tmp_path: Path) -> None:
    playbook, inventory = project
    result = run_playbook(request(playbook, inventory, tmp_path, hosts=("changer",), check=True))
    assert set(result.hosts) == {"changer"}
    assert result.hosts["changer"].status == "changed"
    assert not (tmp_path / "touched").exists()  # check mode reports, does not touch
    again = run_playbook(request(playbook, inventory, tmp_path, hosts=("changer",)))
    assert again.converged
    assert (tmp_path / "touched").exists()


@pytest.mark.parametrize("strategy", ["mitogen_linear", "linear"])
def test_both_strategies_judge_hosts_alike(
    project: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    monkeypatch.setenv(STRATEGY_VARIABLE, strategy)
    playbook, inventory = project
    result = run_playbook(request(playbook, inventory, tmp_path))
    assert {h: r.status for h, r in result.hosts.items()} == {
        "steady": "ok",
        "changer": "changed",
        "bad": "failed",
        "gone": "unreachable",
    }
    # each run's SSH connection masters live in a folder of that run only, removed after it
    assert not list((tmp_path / "run").glob("cp-*"))


def test_the_mitogen_strategy_points_ansible_at_its_plugin() -> None:
    from bringup.provision.runner import _strategy_env

    env = _strategy_env("mitogen_linear")
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()
    assert _strategy_env("linear") == {"ANSIBLE_STRATEGY": "linear"}


def ansible_command(result: ProvisionResult) -> tuple[list[str], dict[str, str]]:
    """The command line and environment ansible-runner started ansible-playbook with."""
    recorded = json.loads((result.artifacts / "command").read_text())
    return recorded["command"], recorded["env"]


def test_forks_and_connection_timeout_suit_the_controller(
    project: tuple[Path, Path], tmp_path: Path
) -> None:
    playbook, inventory = project
    result = run_playbook(request(playbook, inventory, tmp_path, hosts=("steady",)))
    command, env = ansible_command(result)
    assert command[command.index("--forks") + 1] == str(default_forks(controller_cpus()))
    assert env["ANSIBLE_TIMEOUT"] == str(CONNECT_TIMEOUT_S)
    chosen = request(playbook, inventory, tmp_path, hosts=("steady",), forks=3, connect_timeout_s=7)
    command, env = ansible_command(run_playbook(chosen))
    assert (command[command.index("--forks") + 1], env["ANSIBLE_TIMEOUT"]) == ("3", "7")


def test_default_forks_grow_with_the_cpus_within_bounds() -> None:
    assert [default_forks(n) for n in (1, 2, 4, 32, 64)] == [8, 16, 32, 256, 256]
    assert 1 <= controller_cpus() <= (os.cpu_count() or 1)


def test_a_timeout_set_by_the_caller_too_still_reaches_ansible(
    project: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run drops what it inherited from the caller, but not what it set itself
    monkeypatch.setenv("ANSIBLE_TIMEOUT", str(CONNECT_TIMEOUT_S))
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    playbook, inventory = project
    result = run_playbook(request(playbook, inventory, tmp_path, hosts=("steady",)))
    assert result.converged
    _, env = ansible_command(result)
    assert (env["ANSIBLE_TIMEOUT"], env["LC_ALL"]) == (str(CONNECT_TIMEOUT_S), "C.UTF-8")

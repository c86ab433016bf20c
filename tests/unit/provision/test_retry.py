"""Hosts a connection failure left unreachable are run again; a refused login or a failed task
is not. Real runs against a real sshd on loopback (started late, or never)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from bringup.provision import ProvisionRequest, ProvisionResult, TaskEvent, run_playbook
from bringup.provision.runner import STRATEGY_VARIABLE, connection_failure
from tests.unit.provision.sshd import Sshd

PLAYBOOK = """
- name: Probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Probe | Run a command
      ansible.builtin.command: "true"
      changed_when: false
    - name: Probe | Fail on the bad host
      ansible.builtin.fail:
        msg: "disk /dev/nvme9 missing"
      when: inventory_hostname == 'bad'
"""
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
# a closed port on loopback: every connection is refused
CLOSED = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh"}

# What Ansible (ssh plugin) and Mitogen said about unreachable hosts in real runs (OpenSSH 9.2,
# ansible-core 2.19, Mitogen 0.3.54), and lines of OpenSSH and Mitogen seen in their sources.
CONNECTION_FAILURES = {
    "mitogen refused": "Task failed: EOF on stream; last 100 lines received:\n"
    "ssh: connect to host 127.0.0.1 port 9: Connection refused",
    "mitogen bootstrap timeout": "Task failed: Connection timed out.",
    "mitogen closed in kex": "Task failed: EOF on stream; last 100 lines received:\n"
    "kex_exchange_identification: Connection closed by remote host",
    "mitogen cut mid-task": "Task failed: Mitogen was disconnected from the remote environment "
    "while a call was in-progress. If you feel this is in error, please file a bug. Original "
    "error was: the respondent Context has disconnected",
    "mitogen cut while connecting": "Channel was disconnected while connection attempt was in "
    "progress; this may be caused by an abnormal Ansible exit, or due to an unreliable target.",
    "ssh refused": 'Task failed: Data could not be sent to remote host "127.0.0.1". Make sure '
    "this host can be reached over ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused",
    "ssh banner timeout": 'Task failed: Data could not be sent to remote host "127.0.0.1". Make '
    "sure this host can be reached over ssh: Connection timed out during banner exchange\r\n"
    "Connection to 127.0.0.1 port 44593 timed out",
    "ssh closed in kex": 'Task failed: Data could not be sent to remote host "127.0.0.1". Make '
    "sure this host can be reached over ssh: kex_exchange_identification: Connection closed by "
    "remote host\r\nConnection closed by 127.0.0.1 port 45891",
    "ssh cut mid-task": 'Task failed: Data could not be sent to remote host "127.0.0.1". Make '
    "sure this host can be reached over ssh:",
    "ssh reset in kex": "Failed to connect to the host via ssh: kex_exchange_identification: "
    "read: Connection reset by peer",
    "ssh no route": "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.7 port 22:"
    " No route to host",
    "ssh network down": "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.7 "
    "port 22: Network is unreachable",
    "ssh closed by host": "Failed to connect to the host via ssh: Connection to 10.0.0.7 closed "
    "by remote host.",
    "ssh master gone": "Failed to connect to the host via ssh: mux_client_hello_exchange: write "
    "packet: Broken pipe",
    "keepalives unanswered": "Failed to connect to the host via ssh: Timeout, server 10.0.0.7 "
    "not responding.",
    "dns blip": "Failed to connect to the host via ssh: ssh: Could not resolve hostname n1: "
    "Temporary failure in name resolution",
}
REFUSALS = {
    "mitogen unknown host key": "Task failed: Host key checking is enabled, and SSH reported an "
    "unrecognized or mismatching host key.",
    "mitogen wrong key": "Task failed: SSH authentication is incorrect",
    "ssh unknown host key": 'Task failed: Data could not be sent to remote host "localhost". Make '
    "sure this host can be reached over ssh: No ED25519 host key is known for [localhost]:56843 "
    "and you have requested strict checking.\r\nHost key verification failed.",
    "ssh wrong key": 'Task failed: Data could not be sent to remote host "127.0.0.1". Make sure '
    "this host can be reached over ssh: root@127.0.0.1: Permission denied (publickey).",
    "no such host": "Task failed: EOF on stream; last 100 lines received:\nssh: Could not resolve "
    "hostname no-such-host.invalid: Name or service not known",
    "refused after the kex": "Failed to connect to the host via ssh: root@10.0.0.7: Permission "
    "denied (publickey).\r\nConnection closed by 10.0.0.7 port 22",
    "no python": "EOF on stream; last 100 lines received:\n/bin/sh: 1: /usr/bin/python3: not found",
}


@pytest.mark.parametrize("message", CONNECTION_FAILURES.values(), ids=CONNECTION_FAILURES)
def test_a_failed_connection_is_worth_another_try(message: str) -> None:
    assert connection_failure(message)


@pytest.mark.parametrize("message", REFUSALS.values(), ids=REFUSALS)
def test_a_refusal_is_not(message: str) -> None:
    assert not connection_failure(message)


def write_project(tmp_path: Path, hosts: dict[str, dict[str, object]]) -> tuple[Path, Path]:
    playbook = tmp_path / "probe.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    return playbook, inventory


def tries(result: ProvisionResult) -> list[Path]:
    """The artifact folders of a run's tries, oldest first."""
    folders = [p for p in result.artifacts.parent.iterdir() if p.is_dir()]
    return sorted(folders, key=lambda p: p.stat().st_mtime)


def limit(artifacts: Path) -> str | None:
    """The --limit ansible-playbook was given in a try."""
    command: list[str] = json.loads((artifacts / "command").read_text())["command"]
    return command[command.index("--limit") + 1] if "--limit" in command else None


def started(events: list[TaskEvent], host: str) -> int:
    return sum(e.host == host and e.status == "started" for e in events)


@pytest.mark.root
@pytest.mark.parametrize("strategy", ["mitogen_linear", "linear"])
def test_a_host_refusing_at_first_converges_when_run_again(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    monkeypatch.setenv(STRATEGY_VARIABLE, strategy)
    playbook, inventory = write_project(tmp_path, {"late": sshd.host(), "steady": LOCAL})
    events: list[TaskEvent] = []

    def start_sshd_once_refused(event: TaskEvent) -> None:
        events.append(event)
        if event.host == "late" and event.status == "unreachable":
            sshd.start()  # before the pause is over: the next try is accepted

    request = ProvisionRequest(
        playbook=playbook,
        inventory=inventory,
        private_data_dir=tmp_path / "run",
        access=sshd.access(),
        retry_pauses_s=(0.5, 0.5),
    )
    result = run_playbook(request, on_event=start_sshd_once_refused)
    late = [e.status for e in events if e.host == "late" and e.status != "started"]
    assert late == ["unreachable", "ok", "skipped"]
    assert {h: (r.status, r.attempts) for h, r in result.hosts.items()} == {
        "late": ("ok", 2),
        "steady": ("ok", 1),
    }
    assert result.converged
    assert (result.status, result.rc) == ("successful", 0)
    first, second = tries(result)
    assert (limit(first), limit(second)) == (None, "late")
    assert second == result.artifacts
    assert "Connection refused" in (first / "stdout").read_text()


def test_a_host_refused_every_time_is_unreachable_after_the_retries(tmp_path: Path) -> None:
    playbook, inventory = write_project(tmp_path, {"gone": CLOSED, "steady": LOCAL})
    events: list[TaskEvent] = []
    request = ProvisionRequest(
        playbook=playbook,
        inventory=inventory,
        private_data_dir=tmp_path / "run",
        retry_pauses_s=(0.5, 1.5),
    )
    began = time.monotonic()
    result = run_playbook(request, on_event=events.append)
    assert time.monotonic() - began >= 2.0  # both pauses were taken
    gone = result.hosts["gone"]
    assert (gone.status, gone.attempts) == ("unreachable", 3)
    assert "port 9: Connection refused" in (gone.message or "")
    assert (started(events, "gone"), started(events, "steady")) == (3, 2)
    assert (result.hosts["steady"].status, result.hosts["steady"].attempts) == ("ok", 1)
    assert (result.status, result.rc) == ("failed", 4)  # the first try's, which found it
    assert [limit(t) for t in tries(result)] == [None, "gone", "gone"]
    assert tries(result)[-1] == result.artifacts
    assert ProvisionResult.from_json(result.to_json()) == result  # attempts cross processes


def test_the_request_refuses_a_negative_pause_or_no_forks(tmp_path: Path) -> None:
    paths = {"playbook": tmp_path, "inventory": tmp_path, "private_data_dir": tmp_path}
    request = ProvisionRequest(**paths, retry_pauses_s=(1.0, 2.5), forks=4, connect_timeout_s=9)
    assert ProvisionRequest.from_json(request.to_json()) == request
    for wrong in ({"retry_pauses_s": (5.0, -1.0)}, {"forks": 0}, {"connect_timeout_s": 0}):
        with pytest.raises(ValidationError, match=next(iter(wrong))):
            ProvisionRequest(**paths, **wrong)


def test_a_failed_task_is_not_run_again(tmp_path: Path) -> None:
    playbook, inventory = write_project(tmp_path, {"bad": LOCAL, "gone": CLOSED})
    events: list[TaskEvent] = []
    request = ProvisionRequest(
        playbook=playbook,
        inventory=inventory,
        private_data_dir=tmp_path / "run",
        retry_pauses_s=(0.1,),
    )
    result = run_playbook(request, on_event=events.append)
    bad = result.hosts["bad"]
    assert (bad.status, bad.failed_task, bad.attempts) == (
        "failed",
        "Probe | Fail on the bad host",
        1,
    )
    assert started(events, "bad") == 2  # the two tasks of the first try, nothing after
    assert result.hosts["gone"].attempts == 2
    assert (result.status, result.rc) == ("failed", 4)  # ansible-playbook: a host unreachable


@pytest.mark.root
def test_a_refused_login_is_not_run_again(sshd: Sshd, tmp_path: Path) -> None:
    sshd.start()
    stranger = sshd.folder / "host_key"  # a private key sshd does not accept for a login
    host = {**sshd.host(), "ansible_ssh_private_key_file": str(stranger)}
    playbook, inventory = write_project(tmp_path, {"locked": host})
    request = ProvisionRequest(
        playbook=playbook,
        inventory=inventory,
        private_data_dir=tmp_path / "run",
        access=sshd.access(),
        retry_pauses_s=(0.1,),
    )
    result = run_playbook(request)
    locked = result.hosts["locked"]
    assert (locked.status, locked.attempts) == ("unreachable", 1)
    assert len(tries(result)) == 1


def test_a_run_ended_by_a_signal_has_no_exit_status_and_still_crosses_processes(
    tmp_path: Path,
) -> None:
    """ansible-runner gives no rc when ansible-playbook ended by a signal (its pexpect ends a
    child slow to exit once its output closed): the hosts' results, from their events, stand."""
    result = ProvisionResult(status="failed", rc=None, artifacts=tmp_path, hosts={})
    assert ProvisionResult.from_json(result.to_json()) == result
    with pytest.raises(ValidationError, match="rc"):
        ProvisionResult(status="failed", rc="none", artifacts=tmp_path, hosts={})

"""One typed function over ansible-runner: run a playbook, stream its events, judge each host.

Ansible stays the engine (at fleet scale the same runs go to AWX / Automation Platform, which
run ansible-runner too). This wrapper adds what bringup needs around it: SSH settings that keep
host-key checking on while reusing connections, forks sized to the hosts, typed events for a
progress display, the artifact folder kept for inspection, and one result per host. A failed or
unreachable host never stops the others: Ansible carries on with the rest of the play.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ansible_runner  # type: ignore[import-untyped]

REPOSITORY = Path(__file__).resolve().parents[2]
"""Where roles/, playbooks/ and ansible.cfg live (they ship with bringup)."""
HostStatus = Literal["ok", "changed", "failed", "unreachable"]
EventStatus = Literal["started", "ok", "changed", "failed", "unreachable", "skipped"]
MAX_FORKS = 256
STRATEGY_VARIABLE = "BRINGUP_ANSIBLE_STRATEGY"
"""Environment variable naming the Ansible strategy; `linear` runs stock Ansible."""
DEFAULT_STRATEGY = "mitogen_linear"


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One host finishing one task (or starting a task, with `status` 'started')."""

    host: str
    task: str
    status: EventStatus
    message: str | None = None


@dataclass(frozen=True, slots=True)
class HostResult:
    """What one run did to one host."""

    host: str
    status: HostStatus
    ok: int = 0
    changed: int = 0
    failed_task: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class RunResult:
    """The outcome of one playbook run."""

    status: str  # ansible-runner's: successful, failed, timeout, canceled
    rc: int
    artifacts: Path
    hosts: dict[str, HostResult] = field(default_factory=dict)

    def with_status(self, status: HostStatus) -> list[str]:
        """Hosts whose result is `status`, sorted."""
        return sorted(h for h, r in self.hosts.items() if r.status == status)

    @property
    def converged(self) -> bool:
        """Every host ok or changed."""
        return bool(self.hosts) and all(r.status in ("ok", "changed") for r in self.hosts.values())


def lab_settings(root: Path, stack: str) -> tuple[SshSettings, dict[str, Any]]:
    """SSH settings and extra variables of the stack's lab, when one was brought up here.

    The lab leaves its key, known_hosts and Ansible overrides under ``.lab/<stack>/``; against
    real hosts there is none and Ansible's own SSH configuration applies.
    """
    lab = root / ".lab" / stack
    if not (lab / "ssh").exists():
        return SshSettings(), {}
    extra = lab / "extra_vars.json"
    variables = json.loads(extra.read_text()) if extra.exists() else {}
    return SshSettings(lab / "ssh" / "id_ed25519", lab / "ssh" / "known_hosts"), variables


@dataclass(frozen=True)
class SshSettings:
    """How Ansible reaches the hosts: a key, a known_hosts file, strict checking always on."""

    private_key: Path | None = None
    known_hosts: Path | None = None
    user: str = "root"

    def env(self) -> dict[str, str]:
        """Ansible environment variables for these settings."""
        # A connection master whose host went away (a lab node recreated at the same address, a
        # node rebooted) must not hang the next task: keepalives end it within 15 s.
        args = [
            "-o ControlMaster=auto",
            "-o ControlPersist=60s",
            "-o ServerAliveInterval=5",
            "-o ServerAliveCountMax=3",
            "-o StrictHostKeyChecking=yes",
        ]
        if self.known_hosts is not None:
            args.append(f"-o UserKnownHostsFile={self.known_hosts}")
        env = {
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_SSH_ARGS": " ".join(args),
            "ANSIBLE_REMOTE_USER": self.user,
        }
        if self.private_key is not None:
            env["ANSIBLE_PRIVATE_KEY_FILE"] = str(self.private_key)
        return env


def run_playbook(
    playbook: Path,
    *,
    inventory: Path,
    private_data_dir: Path,
    hosts: Sequence[str] | None = None,
    ssh: SshSettings | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    check: bool = False,
    on_event: Callable[[TaskEvent], None] | None = None,
    ident: str | None = None,
) -> RunResult:
    """Run `playbook` against `inventory` (limited to `hosts`) and judge every host.

    The artifacts (events, stdout, status) stay in ``private_data_dir/artifacts/<ident>``.
    """
    private_data_dir.mkdir(parents=True, exist_ok=True)
    # ansible-runner keeps the settings it was given in env/ and a later run that passes none
    # reads them back (a check-mode flag would stick); each run starts from its own settings.
    shutil.rmtree(private_data_dir / "env", ignore_errors=True)
    forks = max(1, min(len(hosts) if hosts else MAX_FORKS, MAX_FORKS))
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(REPOSITORY / "roles"),
        # ansible refuses to start without a UTF-8 locale (a daemon's environment may have none)
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        **(ssh or SshSettings()).env(),
    }
    # Connection masters of this run only: one left by an earlier run may hold a connection to
    # a host that no longer exists at that address.
    control = Path(tempfile.mkdtemp(prefix="cp-", dir=private_data_dir))
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control)
    env.update(_strategy_env(os.environ.get(STRATEGY_VARIABLE, DEFAULT_STRATEGY)))
    if (REPOSITORY / "ansible.cfg").exists():
        env["ANSIBLE_CONFIG"] = str(REPOSITORY / "ansible.cfg")
    collector = _Collector(on_event)
    cmdline = "--check --diff" if check else None
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            playbook=str(playbook.resolve()),
            inventory=str(inventory.resolve()),
            limit=",".join(hosts) if hosts else None,
            extravars=dict(extra_vars or {}),
            envvars=env,
            forks=forks,
            cmdline=cmdline,
            ident=ident,
            quiet=True,
            event_handler=collector.handle,
        )
    finally:
        shutil.rmtree(control, ignore_errors=True)
    artifacts = Path(runner.config.artifact_dir)
    return RunResult(runner.status, runner.rc, artifacts, collector.results(runner.stats or {}))


def _strategy_env(strategy: str) -> dict[str, str]:
    """Environment selecting an Ansible strategy plugin.

    Mitogen's strategies keep one Python interpreter per host for the whole run instead of
    starting one per task over SSH: a no-op converge costs about half the CPU, which is what
    bounds a controller driving hundreds of hosts. `linear` (or `free`) is stock Ansible.
    """
    if not strategy.startswith("mitogen"):
        return {"ANSIBLE_STRATEGY": strategy}
    import ansible_mitogen  # type: ignore[import-untyped]

    plugins = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY": strategy, "ANSIBLE_STRATEGY_PLUGINS": str(plugins)}


class _Collector:
    """Turns ansible-runner's event dicts into TaskEvents and per-host tallies."""

    def __init__(self, on_event: Callable[[TaskEvent], None] | None) -> None:
        self.on_event = on_event
        self.failed: dict[str, tuple[str, str]] = {}
        self.unreachable: dict[str, str] = {}

    def handle(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        host, task = data.get("host"), data.get("task", "")
        status: EventStatus | None = _STATUS.get(kind)
        if status is None or host is None:
            return True
        result = data.get("res", {}) or {}
        if status == "ok" and result.get("changed"):
            status = "changed"
        message = _message(result) if status in ("failed", "unreachable") else None
        if status == "failed" and not data.get("ignore_errors"):
            self.failed.setdefault(host, (task, message or ""))
        elif status == "unreachable":
            self.unreachable.setdefault(host, message or "")
        elif status == "failed":
            status = "ok"  # ignore_errors: the play goes on and so does the host
        if self.on_event is not None:
            self.on_event(TaskEvent(host, task, status, message))
        return True

    def results(self, stats: Mapping[str, Mapping[str, int]]) -> dict[str, HostResult]:
        hosts = set().union(*(set(v) for v in stats.values())) if stats else set()
        hosts |= set(self.failed) | set(self.unreachable)
        results = {}
        for host in sorted(hosts):
            ok = stats.get("ok", {}).get(host, 0)
            changed = stats.get("changed", {}).get(host, 0)
            if host in self.unreachable:
                results[host] = HostResult(
                    host, "unreachable", ok, changed, None, self.unreachable[host]
                )
            elif host in self.failed:
                task, message = self.failed[host]
                results[host] = HostResult(host, "failed", ok, changed, task, message)
            else:
                results[host] = HostResult(host, "changed" if changed else "ok", ok, changed)
        return results


_STATUS: dict[str, EventStatus] = {
    "runner_on_start": "started",
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def _message(result: Mapping[str, Any]) -> str:
    """The most useful line Ansible gave about a failure."""
    for key in ("msg", "stderr", "module_stderr", "reason"):
        value = result.get(key)
        if value:
            return str(value).strip().splitlines()[0][:500]
    return "failed"

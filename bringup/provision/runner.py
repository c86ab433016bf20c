"""One typed function over ansible-runner: run a playbook, stream its events, judge each host.

Ansible stays the engine (at fleet scale the same runs go to AWX / Automation Platform, which
run ansible-runner too). This wrapper adds what bringup needs around it: the Access's SSH
settings (host-key checking stays on while connections are reused), forks sized to the hosts,
typed events for a progress display, the artifact folder kept for inspection, one result per
host, and an environment of only what Ansible needs: ansible-runner records the environment of
each run in its artifacts, so nothing secret of the caller's (a ledger URL, the engine's
passphrase) may reach it. A failed or unreachable host never stops the others: Ansible carries
on with the rest of the play.

The request and the result are typed models with a JSON form, so a run crosses a process
boundary unchanged (``python -m bringup.provision``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import ansible_runner  # type: ignore[import-untyped]
from pydantic import Field

from bringup.access import Access
from bringup.wire import Wire
from bringup.workspace import REPOSITORY

HostStatus = Literal["ok", "changed", "failed", "unreachable"]
EventStatus = Literal["started", "ok", "changed", "failed", "unreachable", "skipped"]
MAX_FORKS = 256
STRATEGY_VARIABLE = "BRINGUP_ANSIBLE_STRATEGY"
"""Environment variable naming the Ansible strategy; `linear` runs stock Ansible."""
DEFAULT_STRATEGY = "mitogen_linear"
PASSED_ENVIRONMENT = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TERM", "SSH_AUTH_SOCK", "TZ"}
)
"""What a playbook run keeps of the caller's environment (ansible-runner records it)."""


class TaskEvent(Wire):
    """One host finishing one task (or starting a task, with `status` 'started')."""

    host: str
    task: str
    status: EventStatus
    message: str | None = None


class HostResult(Wire):
    """What one run did to one host."""

    host: str
    status: HostStatus
    ok: int = 0
    changed: int = 0
    failed_task: str | None = None
    message: str | None = None


class ProvisionResult(Wire):
    """The outcome of one playbook run."""

    status: str  # ansible-runner's: successful, failed, timeout, canceled
    rc: int
    artifacts: Path
    hosts: dict[str, HostResult] = Field(default_factory=dict)

    def with_status(self, status: HostStatus) -> list[str]:
        """Hosts whose result is `status`, sorted."""
        return sorted(h for h, r in self.hosts.items() if r.status == status)

    @property
    def converged(self) -> bool:
        """Every host ok or changed."""
        return bool(self.hosts) and all(r.status in ("ok", "changed") for r in self.hosts.values())


class ProvisionRequest(Wire):
    """One playbook run: which playbook, on which hosts of which inventory, reached how."""

    playbook: Path
    inventory: Path
    private_data_dir: Path
    """ansible-runner's folder; the run's artifacts stay in its artifacts/<ident>."""
    access: Access = Access()
    hosts: tuple[str, ...] | None = None
    """Ansible's --limit; None runs every host of the inventory."""
    extra_vars: dict[str, object] = Field(default_factory=dict)
    """Variables beyond the Access's own extra variables."""
    check: bool = False
    ident: str | None = None
    repository: Path = REPOSITORY
    """Where roles/ and ansible.cfg are."""


def run_playbook(
    request: ProvisionRequest, *, on_event: Callable[[TaskEvent], None] | None = None
) -> ProvisionResult:
    """Run the request's playbook against its inventory (limited to its hosts); judge each host.

    The artifacts (events, stdout, status) stay in ``private_data_dir/artifacts/<ident>``.
    """
    folder = request.private_data_dir
    folder.mkdir(parents=True, exist_ok=True)
    # ansible-runner keeps the settings it was given in env/ and a later run that passes none
    # reads them back (a check-mode flag would stick); each run starts from its own settings.
    shutil.rmtree(folder / "env", ignore_errors=True)
    hosts = request.hosts
    forks = max(1, min(len(hosts) if hosts else MAX_FORKS, MAX_FORKS))
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(request.repository / "roles"),
        # ansible refuses to start without a UTF-8 locale (a daemon's environment may have none)
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        **request.access.ansible_env(),
    }
    # Connection masters of this run only: one left by an earlier run may hold a connection to
    # a host that no longer exists at that address.
    control = Path(tempfile.mkdtemp(prefix="cp-", dir=folder))
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control)
    env.update(_strategy_env(os.environ.get(STRATEGY_VARIABLE, DEFAULT_STRATEGY)))
    if (request.repository / "ansible.cfg").exists():
        env["ANSIBLE_CONFIG"] = str(request.repository / "ansible.cfg")
    collector = _Collector(on_event)
    try:
        runner = ansible_runner.interface.init_runner(
            private_data_dir=str(folder),
            playbook=str(request.playbook.resolve()),
            inventory=str(request.inventory.resolve()),
            limit=",".join(hosts) if hosts else None,
            extravars={**request.access.extra_vars, **request.extra_vars},
            envvars=env,
            forks=forks,
            cmdline="--check --diff" if request.check else None,
            ident=request.ident,
            quiet=True,
            event_handler=collector.handle,
        )
        runner.config.env = _passed(runner.config.env)
        runner.run()
    finally:
        shutil.rmtree(control, ignore_errors=True)
    artifacts = Path(runner.config.artifact_dir)
    return ProvisionResult(
        status=runner.status,
        rc=runner.rc,
        artifacts=artifacts,
        hosts=collector.results(runner.stats or {}),
    )


def run_in_process(request: ProvisionRequest) -> ProvisionResult:
    """`run_playbook` in a process of its own (``python -m bringup.provision``), JSON both ways.

    Inside Pulumi's dynamic-provider process (a gRPC server with its threads and descriptors)
    ansible-runner's pexpect child does not start reliably; a fresh process always gives it a
    clean terminal. Its environment is only what a run keeps (PASSED_ENVIRONMENT).
    """
    done = subprocess.run(
        [sys.executable, "-m", "bringup.provision"],
        input=request.to_json(),
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k in PASSED_ENVIRONMENT | {STRATEGY_VARIABLE}},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the playbook run broke: {done.stderr.strip()[-1500:]}")
    return ProvisionResult.from_json(done.stdout)


def _passed(env: Mapping[str, str]) -> dict[str, str]:
    """ansible-runner's environment for the run without what it copied of the caller's own
    (except PASSED_ENVIRONMENT): it seeds the run with the whole of os.environ."""
    inherited = os.environ
    return {
        k: v
        for k, v in env.items()
        if k in PASSED_ENVIRONMENT or k not in inherited or inherited[k] != v
    }


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

    def handle(self, event: Mapping[str, object]) -> bool:
        status: EventStatus | None = _STATUS.get(str(event.get("event", "")))
        data = event.get("event_data")
        if status is None or not isinstance(data, dict) or data.get("host") is None:
            return True
        host, task = str(data["host"]), str(data.get("task", ""))
        result = data.get("res")
        result = result if isinstance(result, dict) else {}
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
            self.on_event(TaskEvent(host=host, task=task, status=status, message=message))
        return True

    def results(self, stats: Mapping[str, Mapping[str, int]]) -> dict[str, HostResult]:
        hosts = set().union(*(set(v) for v in stats.values())) if stats else set()
        hosts |= set(self.failed) | set(self.unreachable)
        results = {}
        for host in sorted(hosts):
            counts = {
                "ok": stats.get("ok", {}).get(host, 0),
                "changed": stats.get("changed", {}).get(host, 0),
            }
            if host in self.unreachable:
                message = self.unreachable[host]
                results[host] = HostResult(
                    host=host, status="unreachable", message=message, **counts
                )
            elif host in self.failed:
                task, message = self.failed[host]
                results[host] = HostResult(
                    host=host, status="failed", failed_task=task, message=message, **counts
                )
            else:
                status: HostStatus = "changed" if counts["changed"] else "ok"
                results[host] = HostResult(host=host, status=status, **counts)
        return results


_STATUS: dict[str, EventStatus] = {
    "runner_on_start": "started",
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def _message(result: Mapping[str, object]) -> str:
    """The most useful line Ansible gave about a failure."""
    for key in ("msg", "stderr", "module_stderr", "reason"):
        value = result.get(key)
        if value:
            return str(value).strip().splitlines()[0][:500]
    return "failed"

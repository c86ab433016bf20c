"""One typed function over ansible-runner: run a playbook, stream its events, judge each host.

Ansible stays the engine (at fleet scale the same runs go to AWX / Automation Platform, which
run ansible-runner too). This wrapper adds what bringup needs around it: the Access's SSH
settings (host-key checking stays on while connections are reused), forks sized to the
controller, typed events for a progress display, the artifact folder kept for inspection, one
result per host, and an environment of only what Ansible needs: ansible-runner records the
environment of each run in its artifacts, so nothing secret of the caller's (a ledger URL, the
engine's passphrase) may reach it. A failed or unreachable host never stops the others: Ansible
carries on with the rest of the play.

A connection that failed (timed out, refused, reset) is not an unreachable node: a loaded
controller times out its own handshakes, a node's sshd restarts. The hosts a run left
unreachable for such a reason are run again, alone, after a pause (5 s, then 15 s), and only
the last try's verdict counts; a host that failed a task is never run again.

The request and the result are typed models with a JSON form, so a run crosses a process
boundary unchanged (``python -m bringup.provision``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import ansible_runner  # type: ignore[import-untyped]
from pydantic import Field

from bringup.access import Access
from bringup.wire import Wire
from bringup.workspace import REPOSITORY

HostStatus = Literal["ok", "changed", "failed", "unreachable"]
EventStatus = Literal["started", "ok", "changed", "failed", "unreachable", "skipped"]
MAX_FORKS = 256
FORKS_PER_CPU = 8
"""Hosts worked on at once per controller CPU, so SSH handshakes in flight at once. The timeout
applies to each handshake, and those in flight share the CPUs: one host's handshake, Mitogen
bootstrap and first task cost the controller about 35 ms of CPU (measured on 2 CPUs with 1 to
128 hosts), so 256 in flight on 2 CPUs stretch each to about 4.5 s, more where the far ends
share the controller's CPUs (the lab) or the controller is loaded; 16 in flight take about
0.3 s. The run takes no longer for it: 128 hosts took 6 s of CPU and 6 s with 16 forks as with
256."""
MIN_FORKS = 8
"""Even a one-CPU controller works on this many hosts at once: 8 handshakes in flight cost it
about 0.3 s of CPU."""
CONNECT_TIMEOUT_S = 30
"""Ansible's connection timeout (ANSIBLE_TIMEOUT): ssh's ConnectTimeout and, under Mitogen, the
time allowed for the whole bootstrap of a host's interpreter. Its default, 10 s, timed out 9 of
18 lab nodes on a 2-CPU controller at a load of 7, and a run moments later converged them all;
30 s gives such a handshake three times as long. The price is paid by a node that drops
packets: 30 s per try, so with the retries and their pauses under two minutes before it is
called unreachable (the other hosts' plays do not wait for it)."""
RETRY_PAUSES_S = (5.0, 15.0)
"""Pauses before running again the hosts a connection failure left unreachable: one retry per
pause. The first rides out a blip; the second waits for a loaded controller or a restarting sshd
to come back. A host that failed three times is unreachable."""
STRATEGY_VARIABLE = "BRINGUP_ANSIBLE_STRATEGY"
"""Environment variable naming the Ansible strategy; `linear` runs stock Ansible."""
DEFAULT_STRATEGY = "mitogen_linear"
PASSED_ENVIRONMENT = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TERM", "SSH_AUTH_SOCK", "TZ"}
)
"""What a playbook run keeps of the caller's environment (ansible-runner records it)."""


CONNECTION_FAILURES = re.compile(
    "|".join(
        (
            # OpenSSH's client, in Ansible's "Failed to connect to the host via ssh: ..." and
            # "Data could not be sent to remote host ...", and in Mitogen's "EOF on stream; last
            # 100 lines received: ...": "ssh: connect to host H port P: Connection refused"
            # (or timed out, No route to host, Network is unreachable), "Connection timed out
            # during banner exchange", "Connection to H port P timed out", "kex_exchange_
            # identification: Connection closed by remote host" (or read: Connection reset by
            # peer), "Connection closed by H port P", "Connection to H closed by remote host.",
            # "mux_client_hello_exchange: write packet: Broken pipe", and the keepalives of the
            # Access's SSH arguments ending a session: "Timeout, server H not responding."
            r"timed out",
            r"timeout, server \S+ not responding",
            r"connection (refused|reset|closed)",
            r"connection to \S+ (port \d+ )?closed",
            r"no route to host",
            r"network is unreachable",
            r"broken pipe",
            r"banner exchange",
            r"(kex|ssh)_exchange_identification",
            r"temporary failure in name resolution",
            # Ansible's ssh plugin when ssh exited 255 saying nothing: the session was cut
            r"make sure this host can be reached over ssh:\s*$",
            # Mitogen: "Connection timed out." (mitogen.parent.Router: the bootstrap took longer
            # than ANSIBLE_TIMEOUT), "Channel was disconnected while connection attempt was in
            # progress" (ansible_mitogen.services), "Mitogen was disconnected from the remote
            # environment while a call was in-progress. ... Original error was: the respondent
            # Context has disconnected" (or "Channel closed by remote end.";
            # ansible_mitogen.connection.CallChain)
            r"channel (was disconnected|closed by)",
            r"mitogen was disconnected",
        )
    ),
    re.IGNORECASE | re.MULTILINE,
)
"""What an unreachable host's message says when a connection failed and a later one may not."""
NOT_CONNECTION_FAILURES = re.compile(
    "|".join(
        (
            # the far end answered and said no, or the controller is set up wrong: a retry
            # would be refused the same way (Mitogen's last 100 lines of ssh may carry a
            # "Connection closed" too)
            r"permission denied",
            r"authentication",
            r"host key verification failed",
            r"remote host identification has changed",
            r"unrecognized or mismatching host key",
            r"name or service not known",
            r"password",
            r"unable to negotiate",
            r"bad configuration option",
        )
    ),
    re.IGNORECASE,
)
"""What an unreachable host's message says when the host refused us or cannot be found."""


def connection_failure(message: str) -> bool:
    """Whether an unreachable host's message tells of a connection that failed, which a later
    try may make (not a refused login or an unknown host key).

    >>> connection_failure("ssh: connect to host 10.0.0.7 port 22: Connection timed out")
    True
    >>> connection_failure("root@10.0.0.7: Permission denied (publickey).")
    False
    """
    return bool(CONNECTION_FAILURES.search(message)) and not NOT_CONNECTION_FAILURES.search(message)


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
    attempts: int = 1
    """How many runs this host was in: more than 1 when a connection failure had it run again."""


class ProvisionResult(Wire):
    """The outcome of one playbook run, its retries included."""

    status: str
    """ansible-runner's (successful, failed, timeout, canceled): of the last try when every host
    converged, of the first (which found the trouble) otherwise."""
    rc: int | None
    """ansible-playbook's exit status, of the same try as `status`; None when it had none: it
    ended by a signal. ansible-runner's pexpect ends a child still alive 0.1 s after its output
    closed, which a loaded controller's ansible-playbook, still shutting down, can be. Each
    host's result comes from its events, not from this."""
    artifacts: Path
    """The last try's artifact folder; the earlier tries' stay beside it."""
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
    """ansible-runner's name of the run's artifact folder (a retry's gets `-attempt<n>`)."""
    repository: Path = REPOSITORY
    """Where roles/ and ansible.cfg are."""
    forks: Annotated[int, Field(ge=1)] | None = None
    """Hosts worked on at once, so SSH handshakes in flight at once; None: FORKS_PER_CPU per
    controller CPU, at least MIN_FORKS, at most MAX_FORKS."""
    connect_timeout_s: Annotated[int, Field(ge=1)] = CONNECT_TIMEOUT_S
    """Seconds a connection to a host may take to be made (ANSIBLE_TIMEOUT)."""
    retry_pauses_s: tuple[Annotated[float, Field(ge=0)], ...] = RETRY_PAUSES_S
    """Pauses before running again the hosts a connection failure left unreachable: one retry
    per pause; () tries once."""


def run_playbook(
    request: ProvisionRequest, *, on_event: Callable[[TaskEvent], None] | None = None
) -> ProvisionResult:
    """Run the request's playbook against its inventory (limited to its hosts); judge each host.

    The hosts a connection failure left unreachable are run again, alone, after each of the
    request's `retry_pauses_s`. The artifacts (events, stdout, status) stay in
    ``private_data_dir/artifacts/<ident>``, one folder per try.
    """
    request.private_data_dir.mkdir(parents=True, exist_ok=True)
    env = _environment(request)
    forks = request.forks or default_forks(controller_cpus())
    first = last = _run_once(request, env, request.hosts, forks, request.ident, on_event)
    hosts = dict(first.hosts)
    for attempt, pause in enumerate(request.retry_pauses_s, start=2):
        again = tuple(sorted(last.connection_failed))
        if not again:
            break
        time.sleep(pause)
        ident = None if request.ident is None else f"{request.ident}-attempt{attempt}"
        last = _run_once(request, env, again, forks, ident, on_event)
        for host in again:
            # a try that broke before reaching the host leaves it its earlier verdict
            outcome = last.hosts.get(host, hosts[host])
            hosts[host] = outcome.model_copy(update={"attempts": attempt})
    result = ProvisionResult(status=last.status, rc=last.rc, artifacts=last.artifacts, hosts=hosts)
    if not result.converged:
        result = result.model_copy(update={"status": first.status, "rc": first.rc})
    return result


def default_forks(cpus: int) -> int:
    """Hosts worked on at once by a controller with `cpus` CPUs.

    >>> default_forks(2), default_forks(64)
    (16, 256)
    """
    return max(MIN_FORKS, min(FORKS_PER_CPU * cpus, MAX_FORKS))


def controller_cpus() -> int:
    """CPUs this process may run on: its affinity, bounded by a cgroup (v2) CPU quota."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, -(-int(quota) // int(period))))


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


def _passed(env: Mapping[str, str], ours: Mapping[str, str]) -> dict[str, str]:
    """ansible-runner's environment for the run without what it copied of the caller's own
    (except PASSED_ENVIRONMENT): it seeds the run with the whole of os.environ. What the run
    set itself (`ours`) stays, even where the caller's value is the same."""
    inherited = os.environ
    return {
        k: v
        for k, v in env.items()
        if k in PASSED_ENVIRONMENT or k in ours or k not in inherited or inherited[k] != v
    }


def _environment(request: ProvisionRequest) -> dict[str, str]:
    """Ansible's environment for the request's runs (ansible-runner adds its own)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(request.repository / "roles"),
        # ansible refuses to start without a UTF-8 locale (a daemon's environment may have none)
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        **request.access.ansible_env(),
        "ANSIBLE_TIMEOUT": str(request.connect_timeout_s),
    }
    env.update(_strategy_env(os.environ.get(STRATEGY_VARIABLE, DEFAULT_STRATEGY)))
    if (request.repository / "ansible.cfg").exists():
        env["ANSIBLE_CONFIG"] = str(request.repository / "ansible.cfg")
    return env


@dataclass(frozen=True)
class _Try:
    """One ansible-runner run of a request: its outcome and the hosts to try again."""

    status: str
    rc: int | None
    artifacts: Path
    hosts: dict[str, HostResult]
    connection_failed: frozenset[str]
    """Hosts unreachable because a connection failed (see `connection_failure`)."""


def _run_once(
    request: ProvisionRequest,
    env: Mapping[str, str],
    hosts: Sequence[str] | None,
    forks: int,
    ident: str | None,
    on_event: Callable[[TaskEvent], None] | None,
) -> _Try:
    """One run of the request's playbook on `hosts` (None: the whole inventory)."""
    folder = request.private_data_dir
    # ansible-runner keeps the settings it was given in env/ and a later run that passes none
    # reads them back (a check-mode flag would stick); each run starts from its own settings.
    shutil.rmtree(folder / "env", ignore_errors=True)
    # Connection masters of this run only: one left by an earlier run may hold a connection to
    # a host that no longer exists at that address, or one that broke and made it retry.
    control = Path(tempfile.mkdtemp(prefix="cp-", dir=folder))
    envvars = {**env, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)}
    collector = _Collector(on_event)
    try:
        runner = ansible_runner.interface.init_runner(
            private_data_dir=str(folder),
            playbook=str(request.playbook.resolve()),
            inventory=str(request.inventory.resolve()),
            limit=",".join(hosts) if hosts else None,
            extravars={**request.access.extra_vars, **request.extra_vars},
            envvars=envvars,
            # Ansible starts no more workers than the play has hosts; a --limit may be a group
            forks=forks,
            cmdline="--check --diff" if request.check else None,
            ident=ident,
            quiet=True,
            event_handler=collector.handle,
        )
        runner.config.env = _passed(runner.config.env, envvars)
        runner.run()
    finally:
        shutil.rmtree(control, ignore_errors=True)
    results = collector.results(runner.stats or {})
    return _Try(
        status=runner.status,
        rc=runner.rc,
        artifacts=Path(runner.config.artifact_dir),
        hosts=results,
        connection_failed=frozenset(
            h for h in collector.connection_failed if results[h].status == "unreachable"
        ),
    )


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
        self.connection_failed: set[str] = set()

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
        elif status == "unreachable" and host not in self.unreachable:
            self.unreachable[host] = message or ""
            if connection_failure(_text(result)):
                self.connection_failed.add(host)
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
    """The most useful line Ansible gave about a failure.

    A line that announces what follows (Mitogen's "EOF on stream; last 100 lines received:")
    gets the last line that follows, where ssh says what went wrong.
    """
    for key in _MESSAGE_KEYS:
        lines = [line.strip() for line in str(result.get(key) or "").splitlines() if line.strip()]
        if lines:
            first = lines[0]
            if first.endswith(":") and len(lines) > 1:
                first = f"{first} {lines[-1]}"
            return first[:500]
    return "failed"


def _text(result: Mapping[str, object]) -> str:
    """All Ansible said about a failure."""
    return "\n".join(str(result[key]) for key in _MESSAGE_KEYS if result.get(key))


_MESSAGE_KEYS = ("msg", "stderr", "module_stderr", "reason")

"""Drive the Pulumi engine through the Automation API: preview, up, destroy of one stack.

The program runs inline (in this process), the backend is a local folder of the project
(``.state/pulumi``) and secrets use the passphrase provider. The engine works in its own folder,
``.state/workspace/<stack>``, with a copy of the stack's config, so that the stack files under
``stacks/`` are never rewritten by the engine. Every path comes from the Workspace; the engine's
provider processes find the project through ``$BRINGUP_ROOT``.

An operation cut short must not leave the stack stuck:

- the engine's CLI and its dynamic providers run tethered to their parent (util-linux's
  `setpriv --pdeathsig TERM`: the kernel sends them SIGTERM when their parent dies): a
  `bringup up` killed by any signal, SIGKILL included, takes them with it;
- :func:`cancel` asks a running engine to stop (what SIGTERM and SIGINT of `bringup` do);
- a lock left by a process that is gone is removed before the next operation, and said so;
- every resource is an idempotent write, so the next `up` converges what was left half done.

A failed operation raises :class:`EngineFailed` with one line per failed resource; the
engine's whole output goes to a log file under ``.state/logs``. Engine logs, history and
backups are kept bounded.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import yaml
from pulumi import automation as auto

from bringup.access import Access
from bringup.admit.database import redact_url
from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.atomic import write_atomic
from bringup.errors import BringupError
from bringup.infra import blobs, sdk_log
from bringup.infra.components import AdmitSettings, Deployment
from bringup.infra.files import DRIFT, RECORDED, STAGED
from bringup.infra.inputs import Props
from bringup.infra.program import cluster_program, registered
from bringup.infra.provisioning import STALE
from bringup.provision.markers import Record
from bringup.spec import Cluster
from bringup.workspace import ROOT_VARIABLE, Workspace

PROJECT = "bringup"
PASSPHRASE_VARIABLE = "PULUMI_CONFIG_PASSPHRASE"
KEEP_LOGS = 40
"""Engine log files kept in PULUMI_HOME/logs and in .state/logs (newest first)."""
KEEP_CHECKPOINTS = 10
"""History entries and state backups kept per stack (the engine writes one per operation)."""
LOCK_WAIT_S = 120.0
"""How long an operation waits for another live one on the same stack to end."""


class EngineError(BringupError):
    """The engine cannot be used: no CLI, no passphrase, a stack held by another process."""


@dataclass
class EngineFailed(Exception):
    """An operation that ran and failed: one line per failed resource, the full log on disk.

    Not frozen: an exception leaving a ``with`` block of a context manager gets its traceback
    set by contextlib, which a frozen dataclass refuses (FrozenInstanceError in its place).
    """

    operation: str
    stack: str
    failures: dict[str, str]
    log: Path

    def __str__(self) -> str:
        return f"{self.operation} {self.stack} failed; the engine's log: {self.log}"


@dataclass(frozen=True)
class Outcome:
    """What one engine operation did: counts per operation and each resource's operation."""

    summary: dict[str, int]
    steps: dict[str, str] = field(default_factory=dict)  # resource name -> op
    outputs: Props = field(default_factory=dict)
    drift: dict[str, str] = field(default_factory=dict)
    """Files found missing or edited on disk (path -> which) that the operation restores."""


@dataclass(frozen=True)
class Engine:
    """The engine of one project: where its state lives and what `up` declares."""

    workspace: Workspace
    provision: bool = False
    """Declare a Provisioning resource per rack: `up` converges the nodes it changed."""
    admit: AdmitSettings | None = None
    """Declare an Admission resource per rack after its Provisioning (implies provision)."""
    access: Access = field(default_factory=Access)
    """How Provisioning and Admission reach the stack's nodes."""
    default_passphrase: str | None = None
    """The passphrase when PULUMI_CONFIG_PASSPHRASE is unset (the lab's documented default)."""
    notices: Callable[[str], None] | None = None
    """Told what the engine did on its own (a stale lock removed)."""
    records: Mapping[str, Record] | None = None
    """What each node records it was converged to, read before the run (with provision)."""

    def passphrase(self, stack: str) -> str:
        """PULUMI_CONFIG_PASSPHRASE, or the default this engine was given."""
        value = os.environ.get(PASSPHRASE_VARIABLE) or self.default_passphrase
        if value:
            return value
        raise EngineError(
            f"stack {stack!r}: set {PASSPHRASE_VARIABLE} (only stacks reached through the lab "
            "have a default)"
        )

    def _env(self, stack: str) -> dict[str, str]:
        path = [str(self.workspace.engine_bin), str(self.workspace.tools / "bin")]
        return {
            PASSPHRASE_VARIABLE: self.passphrase(stack),
            "PULUMI_BACKEND_URL": f"file://{self.workspace.pulumi_backend}",
            "PULUMI_HOME": str(self.workspace.pulumi_home),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # The file backend rewrites the whole state after every step, quadratic in the
            # number of racks; our resources are idempotent writes, so a run cut short is simply
            # converged again by the next one. Saves the state once, at the end.
            "PULUMI_SKIP_CHECKPOINTS": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            ROOT_VARIABLE: str(self.workspace.root),
            "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")]),
        }

    def _command(self) -> auto.PulumiCommand:
        """The engine's CLI, through the tethering wrappers (written here when they differ)."""
        built = self.workspace.tools / "bin" / "pulumi"
        real = str(built) if built.exists() else shutil.which("pulumi")
        if real is None:
            raise EngineError(
                "no Pulumi engine: run scripts/build-pulumi (make does) or install pulumi"
            )
        # A process killed by SIGKILL cannot stop its children: the kernel does, when asked
        # (PR_SET_PDEATHSIG, which survives exec). Without setpriv they run untethered.
        setpriv = shutil.which("setpriv")
        tether = f'"{setpriv}" --pdeathsig TERM -- ' if setpriv else ""
        # The CLI in a session of its own: a terminal's Ctrl-C reaches bringup alone, which
        # asks the CLI to cancel once; a second SIGINT would make it stop without saving.
        # (setsid execs in place: the wrapper is no process-group leader.)
        setsid = shutil.which("setsid")
        session = f'"{setsid}" ' if setsid else ""
        wrappers = {
            "pulumi": f'exec {tether}{session}"{real}" "$@"',
            # found by the engine on PATH before the one scripts/build-pulumi writes
            "pulumi-resource-pulumi-python": (
                f'exec {tether}"{sys.executable}" -u -m pulumi.dynamic "$@"'
            ),
        }
        for name, line in wrappers.items():
            path = self.workspace.engine_bin / name
            text = f"#!/bin/sh\n{line}\n"
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                write_atomic(path, text.encode(), mode=0o755)
        return auto.PulumiCommand(root=str(self.workspace.engine_bin.parent))

    def stack(self, name: str, cluster: Cluster | None) -> auto.Stack:
        """Select (or create) the stack, with the inline program planning `cluster`; without a
        cluster, a program that declares nothing (for `destroy` from the state alone)."""
        paths = self.workspace.stack(name)
        work = paths.engine
        work.mkdir(parents=True, exist_ok=True)
        self.workspace.pulumi_backend.mkdir(parents=True, exist_ok=True)
        config = work / f"Pulumi.{name}.yaml"
        if not _readable(config):  # lost or damaged: rebuilt with the salt the state holds
            _write_stack_config(config, cluster, self._salt(name))
        elif cluster is not None:
            _write_stack_config(config, cluster, None)
        self._clear_stale_locks(name)
        sdk_log.install()  # this engine runs without --debug: it would drop them
        deployment = Deployment(paths, self.access)

        def program() -> Awaitable[None] | None:
            if cluster is None:
                return None
            # What is alive now (modules, this process's state), then the plan and the tree it
            # declares, lives until the operation ends: left to the collector, each full
            # collection while the engine runs walks it all again (3 of the 18 s of a 1,000-rack
            # no-op up). Frozen, it is skipped; _Run.call unfreezes it.
            gc.freeze()
            root = cluster_program(cluster, deployment, self.provision, self.admit, self.records)
            gc.freeze()
            return registered(root.declared)

        return auto.create_or_select_stack(
            stack_name=name, project_name=PROJECT, program=program, opts=self.options(name)
        )

    def options(self, name: str) -> auto.LocalWorkspaceOptions:
        """How the engine runs stack `name`: in the stack's engine folder, on the project's file
        backend, with passphrase secrets, through the tethered CLI (benchmarks/engine_bare.py
        runs its bare program the same way)."""
        env = self._env(name)
        return auto.LocalWorkspaceOptions(
            work_dir=str(self.workspace.stack(name).engine),
            env_vars=env,
            secrets_provider="passphrase",
            pulumi_home=env["PULUMI_HOME"],
            pulumi_command=self._command(),
            project_settings=auto.ProjectSettings(
                name=PROJECT,
                runtime="python",
                backend=auto.ProjectBackend(url=env["PULUMI_BACKEND_URL"]),
            ),
        )

    def preview(
        self, name: str, cluster: Cluster, on_output: Callable[[str], None] | None = None
    ) -> Outcome:
        """What `up` would do, without doing it."""
        self._begin(name)
        run = _Run(self, "preview", name, on_output)
        result = run.call(
            lambda: self.stack(name, cluster).preview(
                on_event=run.record, on_output=run.output, color="never", diff=False
            )
        )
        return Outcome(_counts(result.change_summary), run.steps, drift=run.drift())

    def up(
        self, name: str, cluster: Cluster, on_output: Callable[[str], None] | None = None
    ) -> Outcome:
        """Converge the stack to the plan; prunes blobs no file refers to any more."""
        self._begin(name)
        run = _Run(self, "up", name, on_output)
        # One rack failing to converge must not stop the others.
        result = run.call(
            lambda: self.stack(name, cluster).up(
                on_event=run.record,
                on_output=run.output,
                color="never",
                continue_on_error=self.provision or self.admit is not None or None,
            )
        )
        blobs.prune(set(STAGED), self.workspace.stack(name).artifacts)
        outputs = {k: v.value for k, v in result.outputs.items()}
        return Outcome(_counts(result.summary.resource_changes), run.steps, outputs, run.drift())

    def destroy(
        self, name: str, cluster: Cluster | None, on_output: Callable[[str], None] | None = None
    ) -> Outcome:
        """Delete every resource of the stack (and so every file it wrote). It needs only the
        state: `cluster` may be None when the declaration is gone or does not load."""
        run = _Run(self, "destroy", name, on_output)
        result = run.call(
            lambda: self.stack(name, cluster).destroy(
                on_event=run.record, on_output=run.output, color="never"
            )
        )
        return Outcome(_counts(result.summary.resource_changes), run.steps)

    def resource_count(self, name: str, cluster: Cluster | None) -> int:
        """Resources in the stack's state (the stack itself included)."""
        deployment = self.stack(name, cluster).export_stack().deployment or {}
        return len(deployment.get("resources", []))

    def _state_file(self, name: str) -> Path:
        return self.workspace.pulumi_backend / ".pulumi" / "stacks" / PROJECT / f"{name}.json"

    def _begin(self, name: str) -> None:
        """Forget what an earlier program run of this process found; load what the state says
        each RenderedFiles resource wrote, which the program compares with the disk."""
        STAGED.clear()
        DRIFT.clear()
        STALE.clear()
        RECORDED.clear()
        try:
            state = json.loads(self._state_file(name).read_text(encoding="utf-8"))
            resources = state["checkpoint"]["latest"]["resources"] or []
        except (OSError, ValueError, KeyError, TypeError):
            return  # no state yet (or none readable): every file is new, none drifted
        for resource in resources:
            if resource.get("type", "").endswith(":RenderedFiles"):
                files = (resource.get("outputs") or {}).get("files")
                if isinstance(files, dict):
                    RECORDED[resource["urn"].rsplit("::", 1)[-1]] = files

    def _salt(self, name: str) -> str | None:
        """The secrets salt the stack's state holds (to rebuild a lost or damaged config)."""
        try:
            state = json.loads(self._state_file(name).read_text(encoding="utf-8"))
            salt = state["checkpoint"]["latest"]["secrets_providers"]["state"]["salt"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return salt if isinstance(salt, str) else None

    def _clear_stale_locks(self, name: str) -> None:
        """Remove the stack's locks whose process is gone; wait a while for a live one."""
        folder = self.workspace.pulumi_backend / ".pulumi" / "locks" / "organization"
        folder = folder / PROJECT / name
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            live = []
            for lock in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                holder = _lock_holder(lock)
                if holder is None:
                    lock.unlink(missing_ok=True)
                    lock.with_name(lock.name + ".attrs").unlink(missing_ok=True)
                    self._notice(f"stack {name}: removed a lock its process left ({lock.name})")
                else:
                    live.append(holder)
            if not live:
                return
            if time.monotonic() > deadline:
                raise EngineError(
                    f"stack {name!r} is being changed by {live[0]}; run again once it is done"
                )
            time.sleep(1.0)

    def _notice(self, line: str) -> None:
        if self.notices is not None:
            self.notices(line)


class _Run:
    """One engine operation: the steps it reports, the failures, and its log."""

    def __init__(
        self, engine: Engine, operation: str, stack: str, echo: Callable[[str], None] | None
    ) -> None:
        self.engine = engine
        self.operation = operation
        self.stack = stack
        self.echo = echo
        self.steps: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self.lines: list[str] = []

    def drift(self) -> dict[str, str]:
        """What was found to differ from the state (files on disk, nodes) for the resources the
        operation did not create anew: what -> how."""
        found = {
            path: f"{kind} on disk"
            for name, files in DRIFT.items()
            if self.steps.get(name) not in (None, "create")
            for path, kind in files.items()
        }
        found |= {
            f"node {node}": why
            for name, nodes in STALE.items()
            if self.steps.get(name) not in (None, "create")
            for node, why in nodes.items()
        }
        return found

    def output(self, line: str) -> None:
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)

    def record(self, event: auto.EngineEvent) -> None:
        diagnostic = event.diagnostic_event
        if diagnostic is not None and diagnostic.severity == "error" and diagnostic.urn:
            name = diagnostic.urn.rsplit("::", 1)[-1]
            self.failures.setdefault(name, failure_line(diagnostic.message))
        pre = event.resource_pre_event
        if pre is None or pre.metadata.op is None:
            return
        if pre.metadata.type == "pulumi:pulumi:Stack" or pre.metadata.type.startswith(
            "pulumi:providers:"
        ):
            return  # the stack and default providers: not resources of ours
        op = str(pre.metadata.op.value)
        name = pre.metadata.urn.rsplit("::", 1)[-1]
        # A replacement is reported as several steps (delete-replaced, replace, create-replacement)
        self.steps[name] = "replace" if "replace" in op or self.steps.get(name) == "replace" else op

    def call(self, operation: Callable[[], _T]) -> _T:
        """Run the operation; EngineFailed with the failures and the log if it fails."""
        workspace = self.engine.workspace
        try:
            return operation()
        except auto.CommandError as error:
            log = self._write_log(str(error))
            failures = self.failures or {self.stack: failure_line(str(error))}
            failures = {name: self.redacted(line) for name, line in failures.items()}
            raise EngineFailed(self.operation, self.stack, failures, log) from None
        finally:
            gc.unfreeze()  # what the program froze is the collector's again
            _keep_newest(workspace.pulumi_home / "logs", KEEP_LOGS)
            backend = workspace.pulumi_backend / ".pulumi"
            _keep_checkpoints(backend / "history" / PROJECT / self.stack)
            _keep_checkpoints(backend / "backups" / PROJECT / self.stack)

    def redacted(self, text: str) -> str:
        """`text` without the passphrase or the ledger's password, wherever they appear. The
        lab's default passphrase is in the code and guards no secret: masking it would mask
        the lab stack's own name in the engine's lines (``bringup-lab`` is its Stack)."""
        secret = os.environ.get(PASSPHRASE_VARIABLE)
        if secret:
            text = text.replace(secret, "***")
        return redact_url(text, os.environ.get(LEDGER_URL_VARIABLE) or None)

    def _write_log(self, error: str) -> Path:
        workspace = self.engine.workspace
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = workspace.logs / f"{self.operation}-{self.stack}-{stamp}.log"
        text = self.redacted("\n".join([*self.lines, "", error]) + "\n")
        write_atomic(path, text.encode("utf-8", errors="replace"), mode=0o600)
        # this stack's logs only: a glob like '*-lab-*' would take stack lab-2's too
        own = re.compile(rf"[a-z]+-{re.escape(self.stack)}-\d{{8}}T\d{{12}}Z\.log")
        _keep_newest(workspace.logs, KEEP_LOGS, own)
        return path


_T = TypeVar("_T")
_EXCEPTION_LINE = re.compile(r"^(?:\w+\.)*\w*(?:Error|Exception): (?P<message>.+)$")


def failure_line(message: str) -> str:
    """The one line of an engine diagnostic that says what failed: the message of the
    exception a provider raised (not its traceback), else the last line of text."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in reversed(lines):
        found = _EXCEPTION_LINE.match(line)
        if found:
            return found.group("message")[:1000]
    return (lines[-1] if lines else "failed")[:1000]


def cancel(signum: int = signal.SIGINT) -> list[int]:
    """Ask the engine CLIs this process started to stop (SIGINT: a clean cancellation that
    saves the state and releases the lock); returns their process ids."""
    asked = []
    for pid in _children(os.getpid()):
        if _command_name(pid) == "pulumi":
            try:
                os.kill(pid, signum)
                asked.append(pid)
            except ProcessLookupError:
                pass
    return asked


def _children(parent: int) -> Iterable[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces and parentheses
            fields = stat[stat.rfind(")") + 2 :].split()
            if len(fields) > 1 and int(fields[1]) == parent:
                yield int(entry.name)


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _lock_holder(lock: Path) -> str | None:
    """Who holds a lock file of the backend ('pid N on HOST since T'); None when that
    process is gone from this host (or the file is unreadable: a lock half written)."""
    try:
        content = json.loads(lock.read_text(encoding="utf-8"))
        pid, host = int(content["pid"]), str(content["hostname"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    holder = f"pid {pid} on {host} since {content.get('timestamp', '?')}"
    if host != socket.gethostname():
        return holder  # another machine's process: it cannot be seen from here
    if _command_name(pid) != "pulumi":
        return None  # gone, or the pid now belongs to another program
    return holder


def _keep_newest(folder: Path, keep: int, names: re.Pattern[str] | None = None) -> None:
    """Remove all but the `keep` newest files of `folder` (of those whose whole name `names`
    matches, when given)."""
    if keep <= 0 or not folder.is_dir():
        return
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and (names is None or names.fullmatch(p.name))),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in files[keep:]:
        path.unlink(missing_ok=True)


def _keep_checkpoints(folder: Path) -> None:
    """Keep the newest KEEP_CHECKPOINTS entries of a history or backups folder (an entry is
    several files sharing the number in their names)."""
    if not folder.is_dir():
        return
    entries: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        found = re.search(r"[.-](\d{10,})\.", path.name)
        if found:
            entries.setdefault(found.group(1), []).append(path)
    for number in sorted(entries, key=int, reverse=True)[KEEP_CHECKPOINTS:]:
        for path in entries[number]:
            path.unlink(missing_ok=True)


def _readable(path: Path) -> bool:
    try:
        return isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError, yaml.YAMLError):
        return False


def _write_stack_config(path: Path, cluster: Cluster | None, salt: str | None) -> None:
    """Copy the cluster into the engine's stack file, keeping the salt the engine wrote there
    (or the one the state holds, when the file is lost or damaged)."""
    settings: Props = {}
    if _readable(path):
        settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    elif salt is not None:
        settings["encryptionsalt"] = salt
    if cluster is not None:
        settings["config"] = {
            f"{PROJECT}:cluster": cluster.model_dump(mode="json", exclude_defaults=True)
        }
    write_atomic(path, yaml.safe_dump(settings, sort_keys=True).encode("utf-8"))


def _counts(changes: Mapping[auto.OpType, int] | Mapping[str, int] | None) -> dict[str, int]:
    """Counts per operation, keyed by the operation's name ('create', 'same', ...)."""
    counts: Counter[str] = Counter()
    for op, n in (changes or {}).items():
        counts[str(getattr(op, "value", op))] += n
    return dict(sorted(counts.items()))

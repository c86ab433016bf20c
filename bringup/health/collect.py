"""Collecting what the health checks read: on the node itself, or from the controller over SSH.

The node's check is the suite's collection script cut to the health sections
(``checks.SECTION_KINDS``), each tool stopped after :data:`TOOL_TIMEOUT_S`: slurmd kills a
HealthCheckProgram that runs a minute, and a tool that hangs (nvidia-smi on a wedged GPU) is a
finding, not a check that never ends. On the node it runs under ``sh -c``; from the controller,
over the same SSH bringup reads its converge records with (``bringup.provision.markers``), with
the stack's Access.

Only a failing verdict pays for more: the kernel log's tail, the text report of nvidia-smi and
DCGM's discovery, collected after judging, kept in the verdict's evidence
(:func:`failure_evidence`).

>>> # verdict = check(expected, Trigger.INTERVAL, LOCAL)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bringup.health.checks import SECTION_KINDS, HealthError, bounded, judge_health
from bringup.health.verdict import Action, HealthVerdict, Severity, Trigger
from bringup.plan import NodeExpectation
from bringup.validation.collect import (
    BEGIN,
    NodeOutputs,
    Section,
    collection_script,
    judge_run,
    script,
)

if TYPE_CHECKING:  # the node's own check never loads the controller's SSH settings
    from bringup.access import Access

TOOL_TIMEOUT_S = 10
"""The most one tool may take."""
COLLECT_TIMEOUT_S = 40.0
"""The most the whole collection may take: under slurmd's minute, with room for the evidence
of a failing verdict and its report."""
EVIDENCE_TIMEOUT_S = 15.0
"""The most the evidence of a failing verdict may take."""
SSH_TIMEOUT_S = 30.0
"""What SSH adds from the controller: its connection (ConnectTimeout)."""
TIMED_OUT = 124  # what timeout(1) exits with

KERNEL_LOG = Section(
    "kernel-log",
    "if [ -r /var/log/kern.log ]; then tail -n 200 /var/log/kern.log; else dmesg | tail -n 200; fi",
)
NVIDIA_SMI_Q = Section("nvidia-smi-q", "$T nvidia-smi -q")
DCGM_DISCOVERY = Section("dcgmi-discovery", "$T dcgmi discovery -l")
"""What DCGM sees of the node's GPUs and NVSwitches: beside nvidia-smi, the second witness of
a GPU lost or present."""


@dataclass(frozen=True)
class Run:
    """What a script run returned: exit status, stdout, stderr."""

    rc: int
    stdout: str
    stderr: str


class Channel(Protocol):
    """Where a script runs: this machine, or a node over SSH."""

    def run(self, text: str, timeout_s: float) -> Run:
        """Run the shell script `text`, stopped after `timeout_s` seconds."""
        ...


@dataclass(frozen=True)
class Local:
    """This machine: the script runs under ``sh -c``."""

    def run(self, text: str, timeout_s: float) -> Run:
        return _run(["sh", "-c", text], timeout_s)


@dataclass(frozen=True)
class Remote:
    """A node reached over SSH with the stack's Access, at its in-band address."""

    access: Access
    address: str

    @classmethod
    def of(cls, expected: NodeExpectation, access: Access) -> Remote:
        """The node `expected` describes, at its in-band address."""
        if expected.management_address is None:
            raise HealthError(f"{expected.name}: no in-band address in the plan to reach it at")
        return cls(access, expected.management_address)

    def run(self, text: str, timeout_s: float) -> Run:
        from bringup.provision.markers import _ssh  # the one way bringup runs a command on a node

        argv = [*_ssh(self.access), f"{self.access.user}@{self.address}", text]
        return _run(argv, timeout_s + SSH_TIMEOUT_S)


LOCAL = Local()


def health_script(expected: NodeExpectation) -> str:
    """The script that prints the sections the health checks read, and nothing else."""
    return collection_script(expected, kinds=SECTION_KINDS, tool_timeout_s=TOOL_TIMEOUT_S)


def collect(expected: NodeExpectation, channel: Channel) -> NodeOutputs:
    """The health sections of the node, collected through `channel`; a run that printed no
    section at all (SSH refused or timed out, no shell) is an unreachable node."""
    done = channel.run(health_script(expected), COLLECT_TIMEOUT_S)
    if done.rc != 0 and BEGIN not in done.stdout:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.rc}"])[-1]
        return NodeOutputs(expected.name, unreachable=True, message=said[:300])
    return judge_run(expected.name, done.rc, done.stdout, done.stderr)


def collect_local(expected: NodeExpectation) -> NodeOutputs:
    """The health sections of this machine, which is the node `expected` describes."""
    return collect(expected, LOCAL)


def collect_remote(
    expected: NodeExpectation, access: Access, address: str | None = None
) -> NodeOutputs:
    """The health sections of a node reached over SSH (at its in-band address by default)."""
    channel = Remote(access, address) if address else Remote.of(expected, access)
    return collect(expected, channel)


def failure_evidence(expected: NodeExpectation, channel: Channel) -> dict[str, str]:
    """What a failing verdict keeps beside its sections: the kernel log's last lines and, on a
    GPU node, nvidia-smi's full text report and what DCGM discovers. Each bounded; what did not
    come back is left out."""
    gpus = [NVIDIA_SMI_Q, DCGM_DISCOVERY] if expected.gpu_count else []
    sections = [KERNEL_LOG, *gpus]
    done = channel.run(script(sections, tool_timeout_s=TOOL_TIMEOUT_S), EVIDENCE_TIMEOUT_S)
    outputs = judge_run(expected.name, done.rc, done.stdout, done.stderr)
    return {s.name: bounded(outputs.text(s.name)) for s in sections if outputs.has(s.name)}


RECHECK_S = 2.0
"""How long a verdict that only finds daemons down waits before it looks again: a converge or
an operator restarting a daemon leaves it down for a moment, which is not a failure."""


def check(
    expected: NodeExpectation,
    trigger: Trigger | str,
    channel: Channel,
    *,
    recheck_s: float = RECHECK_S,
) -> HealthVerdict:
    """Collect, judge, and on a failing verdict add the failure evidence.

    A verdict whose only critical findings are daemons down is taken again after `recheck_s`
    seconds, and the second one stands: a daemon being restarted does not drain its node, a
    dead one does, a few seconds later.
    """
    verdict = _judged(expected, trigger, channel)
    if verdict.drain and _daemons_only(verdict) and recheck_s > 0:
        time.sleep(recheck_s)
        verdict = _judged(expected, trigger, channel)
    if verdict.healthy:
        return verdict
    extra = failure_evidence(expected, channel)
    return replace(verdict, evidence={**verdict.evidence, **extra})


def _judged(expected: NodeExpectation, trigger: Trigger | str, channel: Channel) -> HealthVerdict:
    started, clock = datetime.now(UTC), time.monotonic()
    outputs = collect(expected, channel)
    duration = time.monotonic() - clock
    return judge_health(expected, outputs, trigger, observed_at=started, duration_s=duration)


def _daemons_only(verdict: HealthVerdict) -> bool:
    """Whether every critical finding asks for a daemon to be restarted."""
    critical = [f for f in verdict.findings if f.severity == Severity.CRITICAL]
    return bool(critical) and all(f.action == Action.RESTART_SERVICE for f in critical)


def _run(argv: list[str], timeout_s: float) -> Run:
    """Run `argv` in a session of its own, killed with everything it started when it runs past
    `timeout_s`; what it printed until then is kept (a section cut off reads as failed)."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            said = f"{stderr}timed out after {timeout_s:g} s\n"
            return Run(TIMED_OUT, stdout, said)
    return Run(process.returncode, stdout, stderr)

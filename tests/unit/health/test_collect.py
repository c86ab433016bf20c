"""Collecting the health sections: the script run for real on this machine, the evidence a
failing verdict adds, a tool that hangs, and the node reached over SSH."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bringup.access import Access
from bringup.health import collect as health_collect
from bringup.health.checks import HealthError, judge_health
from bringup.health.collect import (
    LOCAL,
    Local,
    Remote,
    Run,
    check,
    collect,
    collect_local,
    health_script,
)
from bringup.health.verdict import Action
from bringup.plan import NodeExpectation
from bringup.provision.markers import _ssh
from bringup.validation.collect import BEGIN, END
from bringup.validation.expected import read_expectation
from tests.unit.validation.conftest import CPU, HGX, NodeCase, host_vars


def cpu_node(*mounts: str) -> NodeExpectation:
    """The lab's CPU node without its NICs, its planned mount moved to `mounts`."""
    expected = read_expectation(host_vars(CPU)).expected
    (shared,) = expected.mounts
    moved = tuple(shared.model_copy(update={"mount": m}) for m in mounts)
    return expected.model_copy(update={"nics": (), "mounts": moved})


def test_the_script_collects_only_what_the_health_checks_read() -> None:
    script = health_script(read_expectation(host_vars(HGX)).expected)
    assert "nvidia-smi -q -x" in script
    assert "nvidia-smi nvlink -s" in script
    assert "svc nvidia-fabricmanager" in script
    assert "ibstat" in script
    assert "cat /proc/self/mounts" in script
    assert "perfquery" not in script
    assert "dpkg-query" not in script
    assert ".bringup-validation" not in script  # no write probe
    assert 'T="timeout 10"' in script


def test_collect_local_runs_the_script_on_this_machine(tmp_path: Path) -> None:
    """A CPU node with no GPUs and no NICs, as this machine is: /proc is mounted, a plain
    folder is no mount."""
    healthy = cpu_node("/proc")
    outputs = collect_local(healthy)
    assert not outputs.unreachable
    assert sorted(outputs.sections) == ["clock", "mounts"]
    assert outputs.rc("clock") == 0
    assert len(outputs.text("clock").split()) == 3
    verdict = judge_health(healthy, outputs, "cli")
    assert (verdict.healthy, verdict.checks) == (
        True,
        ("software.dcgm", "storage.mount", "storage.options"),
    )
    assert "/proc" in verdict.evidence["mounts"]

    failing = check(cpu_node("/proc", str(tmp_path)), "cli", LOCAL)
    assert failing.drain
    assert [(f.finding.component, f.action) for f in failing.findings] == [
        (f"mount:{CPU}{tmp_path}", Action.REMOUNT)
    ]
    assert set(failing.evidence) == {"clock", "mounts", "kernel-log"}  # no GPU: no nvidia-smi


def _printed(sections: dict[str, tuple[str, int]]) -> str:
    return "".join(f"\n{BEGIN} {n}\n{text}\n{END} {n} {rc}\n" for n, (text, rc) in sections.items())


@dataclass
class Recorded:
    """A channel that answers with canned outputs and keeps the scripts it was given."""

    answers: list[Run]
    scripts: list[str] = field(default_factory=list)

    def run(self, text: str, timeout_s: float) -> Run:
        self.scripts.append(text)
        return self.answers.pop(0)


def test_a_failing_verdict_brings_the_kernel_log_nvidia_smi_and_dcgm(
    make_case: Callable[[str], NodeCase],
) -> None:
    case = make_case(HGX)
    case.fault("gpu-off-bus", gpu=2)
    node = case.node()
    evidence = {
        "kernel-log": ("NVRM: Xid (PCI:0000:3a:00): 79\n", 0),
        "nvidia-smi-q": ("GPU", 0),
        "dcgmi-discovery": ("7 GPUs found.", 0),
    }
    channel = Recorded(
        [Run(0, _printed(dict(node.outputs.sections)), ""), Run(0, _printed(evidence), "")]
    )
    verdict = check(node.expected, "epilog", channel)
    assert verdict.drain
    assert verdict.action == Action.REBOOT
    assert len(channel.scripts) == 2
    assert "tail -n 200 /var/log/kern.log" in channel.scripts[1]
    assert "nvidia-smi -q" in channel.scripts[1]
    assert "dcgmi discovery -l" in channel.scripts[1]
    assert verdict.evidence["dcgmi-discovery"] == "7 GPUs found."
    assert verdict.evidence["kernel-log"] == "NVRM: Xid (PCI:0000:3a:00): 79\n"
    assert "nvidia-smi-xml" in verdict.evidence


def test_a_healthy_verdict_collects_once(make_case: Callable[[str], NodeCase]) -> None:
    node = make_case(HGX).node()
    channel = Recorded([Run(0, _printed(dict(node.outputs.sections)), "")])
    verdict = check(node.expected, "interval", channel)
    assert verdict.healthy
    assert len(channel.scripts) == 1
    assert "kernel-log" not in verdict.evidence


def test_evidence_is_bounded(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    case.overrides["xid"] = ("x" * 200_000, 0)  # unreadable: a finding, and a huge section
    node = case.node()
    verdict = judge_health(node.expected, node.outputs, "cli")
    assert not verdict.healthy
    kept = verdict.evidence["xid"]
    assert len(kept.encode()) < 64 * 1024 + 100
    assert kept.endswith(f"[bringup: {200_000 - 64 * 1024} more bytes left out]\n")


def test_a_run_past_its_time_is_killed_and_keeps_what_it_printed() -> None:
    started = time.monotonic()
    done = Local().run("echo begun; sleep 30; echo never", 1.0)
    assert time.monotonic() - started < 10
    assert (done.rc, done.stdout) == (124, "begun\n")
    assert "timed out after 1 s" in done.stderr


def test_nothing_collected_is_not_judged() -> None:
    expected = cpu_node("/proc")
    said = "ssh: connect to host 10.64.0.21 port 22: Connection refused"
    refused = Recorded([Run(255, "", said)])
    outputs = collect(expected, refused)
    assert outputs.unreachable
    with pytest.raises(HealthError, match=r"nothing collected: ssh: connect to host .* refused"):
        judge_health(expected, outputs, "cli")


def test_a_node_is_reached_with_the_stacks_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same ssh command line bringup reads converge records with, the script its command."""
    seen: list[list[str]] = []

    def run(argv: list[str], timeout_s: float) -> Run:
        seen.append(argv)
        return Run(0, _printed({"clock": ("1.0 1.0\n1800000000\n", 0)}), "")

    monkeypatch.setattr(health_collect, "_run", run)
    access = Access(user="ops", private_key=Path("/keys/id"))
    expected = cpu_node()
    outputs = health_collect.collect_remote(expected, access)
    (argv,) = seen
    assert argv[: len(_ssh(access))] == _ssh(access)
    assert argv[len(_ssh(access))] == f"ops@{expected.management_address}"
    assert argv[-1] == health_script(expected)
    assert outputs.rc("clock") == 0


def test_a_node_without_an_address_cannot_be_reached() -> None:
    expected = cpu_node().model_copy(update={"management_address": None})
    with pytest.raises(HealthError, match=f"{CPU}: no in-band address"):
        Remote.of(expected, Access())


def _fm(case: NodeCase, state: str) -> dict[str, tuple[str, int]]:
    """The node's sections with its fabric manager `state` (running or failed)."""
    case.profile["services"]["nvidia-fabricmanager"] = state
    return dict(case.node().outputs.sections)


def test_a_daemon_down_is_looked_at_again_before_it_drains(
    make_case: Callable[[str], NodeCase], monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(health_collect.time, "sleep", slept.append)
    case = make_case(HGX)
    restarting = _fm(case, "failed")
    back = _fm(case, "running")
    channel = Recorded([Run(0, _printed(restarting), ""), Run(0, _printed(back), "")])
    verdict = check(case.node().expected, "interval", channel)
    assert verdict.healthy
    assert (len(channel.scripts), slept) == (2, [health_collect.RECHECK_S])


def test_a_daemon_still_down_drains_after_the_second_look(
    make_case: Callable[[str], NodeCase], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health_collect.time, "sleep", lambda _: None)
    case = make_case(HGX)
    dead = _fm(case, "failed")
    evidence = {"kernel-log": ("", 0)}
    channel = Recorded(
        [Run(0, _printed(dead), ""), Run(0, _printed(dead), ""), Run(0, _printed(evidence), "")]
    )
    verdict = check(case.node().expected, "interval", channel)
    assert verdict.drain
    assert [f.finding.check for f in verdict.findings] == ["nvlink.fabric_manager"]
    assert len(channel.scripts) == 3


def test_a_lost_gpu_drains_at_the_first_look(
    make_case: Callable[[str], NodeCase], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health_collect.time, "sleep", lambda _: pytest.fail("slept"))
    case = make_case(HGX)
    case.fault("gpu-off-bus", gpu=1)
    sections = dict(case.node().outputs.sections)
    channel = Recorded([Run(0, _printed(sections), ""), Run(0, _printed({}), "")])
    assert check(case.node().expected, "epilog", channel).drain
    assert len(channel.scripts) == 2  # the look, then its evidence

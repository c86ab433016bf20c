"""Admission on the lab (marked `root`): the fault matrix, NVLink domain policies, kill -9.

One lab of the whole `lab` stack for the module (2 HGX H100, 18 GB200 trays of one NVL72
domain, 1 CPU node), provisioned once. The stack is the validation suite's lab test stack (the
same threshold overrides, see tests/unit/validation/test_lab_suite.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bringup.admit.admission import AdmissionCall, AdmissionRequest, admit
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy
from bringup.lab.faults import Options
from bringup.lab.lab import Lab
from bringup.provision import ProvisionRequest, run_playbook
from bringup.provision.inventory import write_inventory
from bringup.workspace import REPOSITORY, Workspace

from ..validation.test_lab_suite import CPU, FAULT_TABLE, HGX1, HGX2, HOSTS, PLAN, tray

pytestmark = pytest.mark.root

DOMAINS = {d.name: d.nodes for d in PLAN.shared_domains}
TRAYS = list(next(iter(DOMAINS.values())))


class Site:
    """The provisioned lab and a way to admit some of its nodes."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.stack = lab.workspace.stack("lab")
        self.root = lab.workspace.root
        self.inventory = write_inventory(PLAN, self.stack)

    def request(self, hosts: list[str], policy: str, burn_in: bool = True) -> AdmissionRequest:
        return AdmissionRequest(
            stack="lab",
            hosts=tuple(hosts),
            inventory=self.inventory,
            domains=DOMAINS,
            work=self.stack.admission,
            policy=DomainPolicy.parse(policy),
            dcgm_level=1,
            burn_in=burn_in,
            access=self.lab.access(),
        )

    def admit(self, ledger: Path, hosts: list[str], policy: str, burn_in: bool = True) -> Any:
        with Ledger.open(path=ledger) as opened:
            return admit(self.request(hosts, policy, burn_in), opened)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    lab = Lab(Workspace(tmp_path_factory.mktemp("project")), "lab")
    lab.down()
    lab.up(PLAN)
    try:
        site = Site(lab)
        result = run_playbook(
            ProvisionRequest(
                playbook=REPOSITORY / "playbooks" / "provision.yml",
                inventory=site.inventory,
                private_data_dir=site.root / "runs",
                hosts=tuple(HOSTS),
                access=lab.access(),
            )
        )
        assert result.converged, result.hosts
        yield site
    finally:
        lab.down()


def test_a_healthy_lab_admits_every_node(site: Site, tmp_path: Path) -> None:
    result = site.admit(tmp_path / "ledger.sqlite3", HOSTS, "unit")
    assert {n: v.reason for n, v in result.verdicts.items() if v.verdict != "admitted"} == {}
    assert [d.status for d in result.domains] == ["complete"]


def test_the_fault_matrix_quarantines_exactly_the_faulted_nodes(site: Site, tmp_path: Path) -> None:
    try:
        for kind, node, options, _, _ in FAULT_TABLE:
            site.lab.fault(node, kind, Options(**options))
        # quorum:1 judges each tray by itself: the matrix is about nodes, not the domain
        result = site.admit(tmp_path / "ledger.sqlite3", HOSTS, "quorum:1")
    finally:
        site.lab.heal()
    faulted = {node for _, node, *_ in FAULT_TABLE}
    for kind, node, _, component, check in FAULT_TABLE:
        verdict = result.verdicts[node]
        if component is None:
            assert verdict.verdict == "unreachable", kind
            continue
        named = {(f.component, f.check) for f in verdict.findings}
        assert verdict.verdict == "quarantined", kind
        assert (component.format(node), check) in named, f"{kind} on {node}: {sorted(named)}"
        if kind == "cable-cut":
            cable = next(f.attributes["cable"] for f in verdict.findings if "cable" in f.attributes)
            assert verdict.findings[0].component == f"cable:{cable}"
        if kind == "low-nccl":
            assert verdict.findings[0].component == f"nvlink-domain:{next(iter(DOMAINS))}"
        if kind == "ib-port-down":  # the far end is up: the NIC, not the cable
            assert not any(f.component.startswith("cable:") for f in verdict.findings)
    assert sorted(n for n, v in result.verdicts.items() if v.verdict == "admitted") == sorted(
        set(HOSTS) - faulted
    )


@pytest.mark.parametrize(
    ("policy", "admitted", "status"),
    [("unit", 0, "held"), ("quorum:17", 17, "degraded"), ("quorum:18", 0, "held")],
)
def test_an_nvl72_domain_with_one_faulted_tray_follows_its_policy(
    site: Site, tmp_path: Path, policy: str, admitted: int, status: str
) -> None:
    try:
        site.lab.fault(tray(6), "gpu-off-bus", Options(gpu=1))
        result = site.admit(tmp_path / "ledger.sqlite3", TRAYS, policy, burn_in=False)
    finally:
        site.lab.heal(tray(6))
    assert len(result.with_verdict("admitted")) == admitted
    assert [d.status for d in result.domains] == [status]
    assert result.verdicts[tray(6)].findings[0].component == f"gpu:{tray(6)}/1"
    if admitted == 0:
        held = result.verdicts[tray(7)].findings[0]
        assert held.component == f"nvlink-domain:{next(iter(DOMAINS))}"
        assert tray(6) in held.evidence
        # the lab's Slurm drains the healthy tray, naming the domain and the tray at fault
        shown = site.lab.slurm.tool("sinfo", "-h", "-N", "-n", tray(7), "-o", "%T|%E").stdout
        state, reason = shown.splitlines()[0].split("|")
        domain = next(iter(DOMAINS))
        assert (state, reason) == (
            "drained",
            f"bringup: nvlink domain {domain} held: {tray(6)} (run {result.run_id})",
        )


CRASH_HOSTS = [HGX1, HGX2, CPU, tray(1)]


def _admit_process(site: Site, ledger: Path) -> subprocess.Popen[str]:
    request = site.request(CRASH_HOSTS, "quorum:1").model_copy(update={"batch": 2})
    call = AdmissionCall(request=request, ledger=ledger)
    process = subprocess.Popen(
        [sys.executable, "-m", "bringup.admit"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPOSITORY,
        start_new_session=True,  # kill -9 takes its ansible and pytest children too
    )
    assert process.stdin is not None
    process.stdin.write(call.to_json())
    process.stdin.close()
    return process


def _rows(ledger: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    if not ledger.exists():
        return []
    with sqlite3.connect(ledger, timeout=30) as db:
        try:
            return list(db.execute(sql))
        except sqlite3.OperationalError:  # the schema is not there yet
            return []


def _kill_when(process: subprocess.Popen[str], ledger: Path, sql: str, count: int) -> None:
    deadline = time.monotonic() + 240
    while len(_rows(ledger, sql)) < count:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, f"never reached {count} of {sql}"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _verdicts(ledger: Path) -> list[tuple[object, ...]]:
    return sorted(_rows(ledger, "SELECT node, verdict FROM verdicts"))


def test_admission_killed_at_several_points_resumes_without_loss_or_duplicates(
    site: Site, tmp_path: Path
) -> None:
    site.lab.fault(HGX2, "ecc-uncorrectable", Options(gpu=2))
    try:
        whole = tmp_path / "whole.sqlite3"
        done = _admit_process(site, whole)
        assert done.wait(timeout=600) == 0, done.stderr.read() if done.stderr else ""
        crashed = tmp_path / "crashed.sqlite3"
        states = "SELECT node FROM state_changes WHERE state = '{}'"
        for sql, count in [
            (states.format("burn-in"), 1),  # during the first batch's burn-in
            (states.format("validating"), 2),  # during the first batch's suite
            ("SELECT node FROM verdicts", 2),  # between the batches
        ]:
            _kill_when(_admit_process(site, crashed), crashed, sql, count)
        last = _admit_process(site, crashed)
        assert last.wait(timeout=600) == 0, last.stderr.read() if last.stderr else ""
    finally:
        site.lab.heal(HGX2)
    assert _verdicts(crashed) == _verdicts(whole)
    assert len(_verdicts(crashed)) == len(CRASH_HOSTS)  # no duplicate, none lost
    assert ("lab-h1-r01-k01-n2", "quarantined") in _verdicts(crashed)
    runs = _rows(crashed, "SELECT status FROM runs")
    assert runs == [("finished",)]  # one run, resumed each time

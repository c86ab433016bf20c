"""Revalidation after a repair: admission tells the suite when each node it revalidates had its
latest repair mark (its Xid checks ignore what the driver logged before), and only those nodes,
over SSH and on the nodes as the scheduler's jobs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from bringup.admit import on_node
from bringup.admit.admission import admit
from bringup.admit.ledger import Ledger
from bringup.scheduler import jobs
from bringup.scheduler.jobs import NodeRuns
from bringup.validation.repaired import read_repaired, write_repaired
from bringup.validation.report import HostReport, TestOutcome, write_report
from tests.unit.admit.test_admission import ECC, HGX, Suite, request


def latest_mark(ledger: Ledger, node: str) -> datetime:
    """When the node's latest repair mark was made, as its history shows it."""
    return [at for at, state, _, _ in ledger.history("s", node) if state == "repaired"][-1]


def test_over_ssh_the_suite_is_given_the_revalidated_nodes_repair_times(
    ledger: Ledger, tmp_path: Path
) -> None:
    first = Suite({"n1": ECC, "n2": ECC})
    admit(request("quorum:1", hosts=HGX, work=tmp_path), ledger, suite=first)
    assert first.given[0]["repaired"] is None  # nobody was repaired
    ledger.mark_repaired("s", "n1", "GPU 1 reset")
    ledger.mark_repaired("s", "n1", "and reseated")
    again = Suite({"n2": ECC})  # n2 is judged again with no repair
    admit(request("quorum:1", hosts=HGX, work=tmp_path), ledger, suite=again)
    (given,) = again.given
    assert given["repaired"].parent == tmp_path / "reports"
    assert read_repaired(given["repaired"]) == {"n1": latest_mark(ledger, "n1")}
    later = Suite()  # n1 was judged since its repair: it is no longer revalidated
    admit(request("quorum:1", hosts=HGX, work=tmp_path), ledger, suite=later)
    assert later.given[0]["repaired"] is None


def test_a_resumed_revalidation_is_given_the_repair_time_again(
    ledger: Ledger, tmp_path: Path
) -> None:
    admit(request("quorum:1", hosts=["n1"], work=tmp_path), ledger, suite=Suite({"n1": ECC}))
    ledger.mark_repaired("s", "n1", "GPU 1 reset")
    with pytest.raises(KeyboardInterrupt):  # killed while the suite revalidates n1
        admit(request("quorum:1", hosts=["n1"], work=tmp_path), ledger, suite=Suite(die_after=0))
    resumed = Suite()
    result = admit(request("quorum:1", hosts=["n1"], work=tmp_path), ledger, suite=resumed)
    assert result.resumed
    assert read_repaired(resumed.given[0]["repaired"]) == {"n1": latest_mark(ledger, "n1")}


class Jobs:
    """The scheduler's jobs, run nowhere: keeps each command, and every node answers with a
    passing report as bringup.admit.on_node prints it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.commands: list[list[str]] = []

    def run_on(
        self, nodes: Sequence[str], argv: Sequence[str], *, label: str, marker: str, hold: str
    ) -> NodeRuns:
        self.commands.append(list(argv))
        outputs = {}
        for node in nodes:
            path = self.folder / f"{node}.json"
            passed = TestOutcome(f"tests/validation/test_gpu.py::x[{node}]", "test_gpu", "passed")
            write_report(path, {node: HostReport(node, (passed,))})
            line = {"node": node, "burn_in": {"ok": True}, "report": json.loads(path.read_text())}
            outputs[node] = json.dumps(line)
        return NodeRuns(outputs=outputs)

    def repaired(self) -> dict[str, datetime] | None:
        """The repair times the last command gave the nodes, None when it gave none."""
        given = [a.removeprefix("--repaired=") for a in self.commands[-1] if "--repaired" in a]
        return read_repaired(Path(given[0])) if given else None


def test_on_the_nodes_every_job_is_given_the_repair_times_file(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = Jobs(tmp_path)
    monkeypatch.setattr(jobs, "runner_for", lambda access: fake)
    on_nodes = request("quorum:1", hosts=HGX, work=tmp_path).model_copy(update={"via": "scheduler"})
    admit(request("quorum:1", hosts=HGX, work=tmp_path), ledger, suite=Suite({"n1": ECC}))
    ledger.mark_repaired("s", "n1", "GPU 1 swapped")
    result = admit(on_nodes, ledger)
    assert result.with_verdict("admitted") == HGX
    assert fake.repaired() == {"n1": latest_mark(ledger, "n1")}
    admit(on_nodes, ledger)
    assert fake.repaired() is None


def test_the_node_passes_the_file_to_its_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[str]] = []

    def run(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        return subprocess.CompletedProcess(argv, 4, "", "no suite here")

    monkeypatch.setattr(subprocess, "run", run)  # the suite on_node would start
    monkeypatch.setenv("SLURMD_NODENAME", "n1")
    repaired = write_repaired(tmp_path / "repaired.json", {})
    common = ["--inventory", str(tmp_path / "hosts.yml"), "--repository", str(tmp_path)]
    on_node.main([*common, "--work", str(tmp_path / "work"), "--repaired", str(repaired)])
    on_node.main([*common, "--work", str(tmp_path / "work")])
    flags = [[a for a in argv if a.startswith("--bringup-repaired")] for argv in ran]
    assert flags == [[f"--bringup-repaired={repaired}"], []]

"""The suite run as users run it (a pytest subprocess), on this machine and on a dead address.

local:// judges this machine against a small host_vars file: what it lacks is reported with
the component and check; ssh:// to a closed port is an unreachable host, not a pile of failures.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bringup.validation.checks import Check
from bringup.validation.repaired import write_repaired
from bringup.validation.report import HostReport, read_report
from bringup.validation.run import run_suite, suite_command
from bringup.workspace import REPOSITORY
from tests.unit.validation.conftest import CPU, HGX, host_vars

SUITE = REPOSITORY / "tests" / "validation"
REPAIRED_AT = datetime(2026, 11, 25, 4, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 5, tzinfo=UTC)


def write_host_vars(path: Path, name: str, mount: Path) -> Path:
    """A CPU node's rendered expectation, renamed, with one package and one mount to check."""
    expected: dict[str, Any] = host_vars(CPU)["bringup_expected"]
    software = host_vars(HGX)["bringup_expected"]["software"]
    software.update(dcgm=None, fabric_manager=False, nvlsm=None, imex=False)
    software["packages"] = [{"name": "bash", "version": "0.0-bringup", "hold": False}]
    (shared,) = expected["mounts"]
    expected.update(
        name=name, nics=[], bmc=None, software=software, mounts=[{**shared, "mount": str(mount)}]
    )
    path.write_text(yaml.safe_dump({"bringup_expected": expected}))
    return path


def run_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPOSITORY, timeout=300)


def outcomes(report: HostReport) -> dict[Check, str]:
    """Outcome per check id (the suite's tests are parametrized by check)."""
    found = {}
    for test in report.tests:
        param = test.nodeid.rsplit("[", 1)[1].rstrip("]")
        found[next(c for c in Check if param.endswith(f"-{c.value}"))] = test.outcome
    return found


def test_local_host_findings_in_report_and_junit(tmp_path: Path) -> None:
    host_vars = write_host_vars(tmp_path / "me.yml", "me", tmp_path / "not-a-mount")
    report_path, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    done = run_pytest(
        "--hosts=local://", f"--bringup-expected={host_vars}",
        f"--bringup-report={report_path}", f"--junitxml={junit}",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:]
    (me,) = read_report(report_path).values()
    assert me.host == "me"
    assert not me.unreachable
    got = outcomes(me)
    assert got[Check.STORAGE_MOUNT] == "failed"
    assert got[Check.SOFTWARE_PACKAGE] == "failed"
    assert got[Check.SOFTWARE_HOLD] == "passed"
    assert got[Check.GPU_COUNT] == "skipped"  # no GPUs planned
    assert got[Check.NIC_STATE] == "skipped"  # no NICs planned
    by_check = {f.check: f for f in me.findings}
    assert by_check[Check.STORAGE_MOUNT].component == f"mount:me{tmp_path}/not-a-mount"
    package = by_check[Check.SOFTWARE_PACKAGE]
    assert package.component == "package:me/bash"
    assert package.expected == "0.0-bringup"
    assert package.observed != package.expected
    assert "package:me/bash [software.package]" in junit.read_text()


def test_unreachable_host_is_one_verdict(tmp_path: Path) -> None:
    host_vars = write_host_vars(tmp_path / "ghost.yml", "ghost", tmp_path)
    report_path = tmp_path / "report.json"
    done = run_pytest(
        "--hosts=ssh://root@127.0.0.1:1", f"--bringup-expected={host_vars}",
        f"--bringup-report={report_path}", "--ssh-extra-args=-o BatchMode=yes",
        "--bringup-retries=0",
    )  # fmt: skip
    assert done.returncode == 1
    assert "UNREACHABLE ghost" in done.stdout
    (ghost,) = read_report(report_path).values()
    assert ghost.unreachable
    assert "refused" in ghost.message.lower()
    assert ghost.failed == ()
    assert {t.outcome for t in ghost.tests} == {"skipped"}


def test_run_suite_reports_every_host(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {"all": {"hosts": {"ghost": {"ansible_host": "127.0.0.1", "ansible_port": 1}}}}
        )
    )
    (tmp_path / "host_vars").mkdir()
    write_host_vars(tmp_path / "host_vars" / "ghost.yml", "ghost", tmp_path)
    report_path = tmp_path / "out" / "report.json"
    reports = run_suite(
        inventory,
        ["ghost", "never-planned"],
        suite=SUITE,
        report=report_path,
        junit=tmp_path / "j.xml",
        extra_args=["--bringup-retries=0"],
    )
    assert set(reports) == {"ghost", "never-planned"}
    assert reports["ghost"].unreachable
    assert "refused" in reports["ghost"].message.lower()
    assert reports["never-planned"].unreachable
    assert "not in the suite's report" in reports["never-planned"].message
    assert read_report(report_path) == reports
    assert (tmp_path / "j.xml").exists()


@dataclass
class Ran:
    """What testinfra's Host.run returns."""

    rc: int
    stdout: str
    stderr: str


class FlakyBackend:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_pytest_id(self) -> str:
        return f"ansible://{self.name}"

    def get_variables(self) -> dict[str, Any]:
        return {"bringup_expected": host_vars(CPU)["bringup_expected"]}


class FlakyHost:
    """Refuses the first `failures` connections (ssh's own exit 255), then answers."""

    def __init__(self, name: str, failures: int) -> None:
        self.backend = FlakyBackend(name)
        self.failures = failures
        self.calls = 0

    def run(self, command: str) -> Ran:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(Ran(255, "", "ssh: connect to host: timed out"))
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
        return Ran(done.returncode, done.stdout, done.stderr)


class Options:
    def __init__(self, **values: object) -> None:
        self.values = values

    def getoption(self, name: str) -> object:
        return self.values.get(name)


@pytest.mark.parametrize("retries", [2, 4])
def test_a_node_that_answers_on_a_retry_is_not_unreachable(
    monkeypatch: pytest.MonkeyPatch, retries: int
) -> None:
    from bringup.validation import plugin

    monkeypatch.setattr(plugin, "RETRY_DELAYS_S", (0.0, 0.0))  # more retries wait the last
    config = Options(bringup_retries=retries, bringup_collect_workers=4)
    suite = plugin.Suite(config)  # type: ignore[arg-type]
    hosts = {"slow": FlakyHost("slow", 2), "dead": FlakyHost("dead", 99)}
    for host in hosts.values():
        suite.hosts[host.backend.get_pytest_id()] = host  # type: ignore[assignment]
    suite.collect_all()
    outputs = {key.removeprefix("ansible://"): n.outputs for key, n in suite.nodes.items()}
    assert not outputs["slow"].unreachable
    assert hosts["slow"].calls == 3
    assert outputs["dead"].unreachable
    assert "timed out" in outputs["dead"].message
    assert hosts["dead"].calls == 1 + retries  # the first try and the retries, no more


def test_a_node_listed_as_repaired_gets_its_repair_time(tmp_path: Path) -> None:
    from bringup.validation import plugin

    repaired = write_repaired(tmp_path / "repaired.json", {CPU: REPAIRED_AT, "other": NOW})
    for given, expected in ((repaired, REPAIRED_AT), (None, None)):
        config = Options(bringup_retries=0, bringup_collect_workers=1, bringup_repaired=given)
        suite = plugin.Suite(config)  # type: ignore[arg-type]
        host = FlakyHost(CPU, 0)
        suite.hosts[host.backend.get_pytest_id()] = host  # type: ignore[assignment]
        suite.collect_all()
        (node,) = suite.nodes.values()
        assert (node.name, node.repaired_at) == (CPU, expected)


def test_an_unreadable_repair_file_stops_the_suite_before_any_test(tmp_path: Path) -> None:
    host_vars = write_host_vars(tmp_path / "me.yml", "me", tmp_path)
    repaired = tmp_path / "repaired.json"
    repaired.write_text('{"me": "2026-11-25T04:00:00"}')
    done = run_pytest(
        "--hosts=local://", f"--bringup-expected={host_vars}", f"--bringup-repaired={repaired}",
        f"--bringup-report={tmp_path / 'report.json'}",
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:]
    assert f"--bringup-repaired: {repaired}: me: repair time" in done.stderr
    assert not (tmp_path / "report.json").exists()


def test_the_suite_command_carries_the_repair_file(tmp_path: Path) -> None:
    argv = suite_command(
        tmp_path / "hosts.yml", ["n1"], suite=SUITE, report=tmp_path / "r.json",
        repaired=tmp_path / "repaired.json",
    )  # fmt: skip
    assert f"--bringup-repaired={tmp_path / 'repaired.json'}" in argv
    plain = suite_command(tmp_path / "hosts.yml", ["n1"], suite=SUITE, report=tmp_path / "r.json")
    assert not [a for a in plain if a.startswith("--bringup-repaired")]

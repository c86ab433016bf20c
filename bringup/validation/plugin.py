"""The suite's pytest plugin: options, the per-node fixture, the findings report.

tests/validation/conftest.py registers it. It adds:

- ``--bringup-report=PATH``: write the run's report (bringup.validation.report.write_report): per
  host, per test, outcome and structured findings; a host never reached is ``unreachable``.
- ``--bringup-burn-in=DIR``: the controller folder with the burn-in outputs, ``DIR/<host>/``.
- ``--bringup-expected=FILE``: a host_vars file with ``bringup_expected``, for backends that
  have no inventory (``local://``, ``ssh://``); with ``ansible://`` the host's own variables
  are read.
- ``--bringup-diag-level=N``: the DCGM diagnostic level burn-in was run at (default: the
  inventory's burn_in_dcgm_diag_level).
- ``--bringup-collect-workers=N``: how many nodes are collected at once (default 8 per CPU of
  the controller, at most 32).
- ``--bringup-retries=N``: how many times a node that did not answer is tried again, after
  5 s and then 15 s, before it is reported unreachable (default 2).
- ``--bringup-repaired=FILE``: a JSON object, node -> the ISO-8601 time of its latest repair
  (bringup.validation.repaired), for the nodes admission revalidates: the Xid checks of a node
  listed ignore what the driver logged before that time.

Speed: before the first test, every host of the run is collected in parallel, one remote
command each (bringup.validation.collect), and the outputs are cached for the session; every
test then judges cached text. A host that cannot be reached (ssh exits 255: refused, timed out,
host key) is reported unreachable and its tests are skipped with that reason, not failed one by
one; the run still exits non-zero.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

import pluggy
import pytest

from bringup.plan import NodeExpectation
from bringup.validation.checks import Check
from bringup.validation.collect import NodeOutputs, collection_script, judge_run
from bringup.validation.expected import (
    ExpectationError,
    HostExpectation,
    read_expectation,
    read_expectation_file,
)
from bringup.validation.judges import JUDGES
from bringup.validation.node import Node
from bringup.validation.repaired import RepairedError, read_repaired
from bringup.validation.report import Finding, HostReport, Outcome, TestOutcome, write_report

DEFAULT_WORKERS = min(32, 8 * (os.cpu_count() or 1))
"""Nodes collected at once: SSH handshakes cost the controller CPU, so a small controller
opens fewer at a time."""
RETRY_DELAYS_S = (5.0, 15.0)
"""Pauses before collecting again from a node that did not answer: a connection that timed out
on a loaded controller is not an unreachable node, one that fails three times is."""


class CommandResult(Protocol):
    """What testinfra's Host.run returns."""

    rc: int
    stdout: str
    stderr: str


class Backend(Protocol):
    """The part of a testinfra backend the suite uses (the Ansible one adds get_variables)."""

    def get_pytest_id(self) -> str: ...


@runtime_checkable
class Host(Protocol):
    """The part of testinfra's Host the suite uses."""

    @property
    def backend(self) -> Backend: ...

    def run(self, command: str) -> CommandResult: ...


class FindingsFailed(AssertionError):
    """A check found bad components; the message lists them, one line each."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("\n".join(f.line() for f in self.findings))


def judge_node(check: Check, node: Node) -> None:
    """Run the judge of `check` on `node`: skipped where the check does not apply,
    FindingsFailed when it finds anything."""
    judge = JUDGES[check]
    reason = judge.skip_reason(node)
    if reason is not None:
        pytest.skip(reason)
    findings = judge(node)
    if findings:
        raise FindingsFailed(findings)


class Suite:
    """The state of one run: hosts, their expectations and outputs, and the outcomes."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.hosts: dict[str, Host] = {}  # pytest id -> testinfra Host
        self.nodes: dict[str, Node] = {}  # pytest id -> Node
        self.errors: dict[str, str] = {}  # pytest id -> why no Node
        self.outcomes: dict[str, list[TestOutcome]] = {}  # host name -> outcomes
        self.collected = False
        repaired = self.option("bringup_repaired")
        self.repaired = read_repaired(Path(str(repaired))) if repaired else {}  # node -> time

    def option(self, name: str) -> object:
        return self.config.getoption(name)

    def expected(self, host: Host) -> HostExpectation:
        level = self.option("bringup_diag_level")
        level = level if isinstance(level, int) else None
        path = self.option("bringup_expected")
        if path:
            return read_expectation_file(Path(str(path)), diag_level=level)
        backend = host.backend
        variables = getattr(backend, "get_variables", None)
        if variables is None:
            raise ExpectationError(
                f"{backend.get_pytest_id()}: no inventory; pass --bringup-expected=HOST_VARS"
            )
        return read_expectation(variables(), diag_level=level)

    def collect_all(self) -> None:
        """Collect every host of the run, in parallel, once."""
        if self.collected:
            return
        self.collected = True
        expectations: dict[str, HostExpectation] = {}
        for key, host in self.hosts.items():
            try:
                expectations[key] = self.expected(host)
            except (ExpectationError, OSError) as exc:
                self.errors[key] = str(exc)
        burn_in = self.option("bringup_burn_in")
        folder = Path(str(burn_in)) if burn_in else None
        outputs = self._collect(expectations)
        retries = self.option("bringup_retries")
        for attempt in range(retries if isinstance(retries, int) else 0):
            delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]  # the last one on
            again = {k: e for k, e in expectations.items() if outputs[k].unreachable}
            if not again:
                break
            time.sleep(delay)
            outputs.update(self._collect(again))
        for key, wanted in expectations.items():
            repaired = self.repaired.get(wanted.expected.name)
            self.nodes[key] = Node(
                wanted.expected, outputs[key], folder, wanted.diag_level, repaired
            )

    def _collect(self, expectations: dict[str, HostExpectation]) -> dict[str, NodeOutputs]:
        """One collection of each host, `--bringup-collect-workers` at once."""
        limit = self.option("bringup_collect_workers")
        workers = max(1, min(limit if isinstance(limit, int) else 1, len(expectations) or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {
                key: pool.submit(_collect, self.hosts[key], host.expected)
                for key, host in expectations.items()
            }
            return {key: future.result() for key, future in futures.items()}

    def node(self, host: Host) -> Node:
        key = host.backend.get_pytest_id()
        self.hosts.setdefault(key, host)
        self.collect_all()
        if key in self.errors:
            raise ExpectationError(self.errors[key])
        return self.nodes[key]

    def record(self, host_name: str, outcome: TestOutcome) -> None:
        self.outcomes.setdefault(host_name, []).append(outcome)

    def report(self) -> dict[str, HostReport]:
        reports = {}
        names = {n.name for n in self.nodes.values()} | set(self.outcomes)
        by_name = {n.name: n for n in self.nodes.values()}
        for name in sorted(names):
            node = by_name.get(name)
            unreachable = bool(node and node.outputs.unreachable)
            reports[name] = HostReport(
                name,
                tuple(self.outcomes.get(name, ())),
                unreachable,
                node.outputs.message if node else "",
            )
        return reports


def _collect(host: Host, expected: NodeExpectation) -> NodeOutputs:
    try:
        result = host.run(collection_script(expected))
    except RuntimeError as exc:  # testinfra's ssh backend raises on ssh's own exit 255
        out = exc.args[0] if exc.args else None
        stderr = getattr(out, "stderr", str(exc))
        return judge_run(expected.name, 255, getattr(out, "stdout", ""), stderr)
    except Exception as exc:  # paramiko and others: the node was not reached
        return NodeOutputs(expected.name, unreachable=True, message=f"{type(exc).__name__}: {exc}")
    return judge_run(expected.name, result.rc, result.stdout, result.stderr)


SUITE = pytest.StashKey[Suite]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bringup", "bringup node validation")
    group.addoption(
        "--bringup-report",
        dest="bringup_report",
        default=None,
        help="write the findings report (JSON) to this path",
    )
    group.addoption(
        "--bringup-burn-in",
        dest="bringup_burn_in",
        default=None,
        help="folder of burn-in outputs, one sub-folder per host",
    )
    group.addoption(
        "--bringup-expected",
        dest="bringup_expected",
        default=None,
        help="host_vars file with bringup_expected (backends without inventory)",
    )
    group.addoption(
        "--bringup-diag-level",
        dest="bringup_diag_level",
        type=int,
        default=None,
        help="DCGM diagnostic level burn-in was configured with",
    )
    group.addoption(
        "--bringup-retries",
        dest="bringup_retries",
        type=int,
        default=len(RETRY_DELAYS_S),
        help="times a node that did not answer is tried again before it is unreachable",
    )
    group.addoption(
        "--bringup-collect-workers",
        dest="bringup_collect_workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="nodes collected at once",
    )
    group.addoption(
        "--bringup-repaired",
        dest="bringup_repaired",
        default=None,
        help="JSON file of node -> time of its latest repair: Xids logged before it do not count",
    )


def pytest_configure(config: pytest.Config) -> None:
    # testinfra's Ansible backend runs `ansible-inventory`: the one installed beside this Python
    # (a virtualenv run without activating it) comes first.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])
    try:
        config.stash[SUITE] = Suite(config)
    except RepairedError as error:
        raise pytest.UsageError(f"--bringup-repaired: {error}") from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not items:
        return
    suite = items[0].config.stash[SUITE]
    for item in items:
        callspec = getattr(item, "callspec", None)
        host = callspec.params.get("_testinfra_host") if callspec else None
        if isinstance(host, Host):
            suite.hosts.setdefault(host.backend.get_pytest_id(), host)


@pytest.fixture(scope="module")
def bringup_node(host: Host, request: pytest.FixtureRequest) -> Node:
    """The node under test, collected and cached; skips its tests when it was not reached."""
    node = request.config.stash[SUITE].node(host)
    if node.outputs.unreachable:
        pytest.skip(f"{node.name} unreachable: {node.outputs.message}")
    return node


def _host_name(suite: Suite, item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    host = callspec.params.get("_testinfra_host") if callspec else None
    if not isinstance(host, Host):
        return None
    node = suite.nodes.get(host.backend.get_pytest_id())
    return (
        node.name
        if node
        else str(getattr(host.backend, "host", None) or host.backend.get_pytest_id())
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    suite = item.config.stash[SUITE]
    name = _host_name(suite, item)
    if name is None:
        return
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if not final:
        return
    findings: tuple[Finding, ...] = ()
    message = ""
    if report.failed:
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, FindingsFailed):
            findings = error.findings
        message = str(error)[:2000] if error is not None else report.longreprtext[:2000]
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
    state: Outcome = "error" if report.failed and report.when == "setup" else report.outcome
    suite.record(name, TestOutcome(item.nodeid, _module(item), state, findings, message))


def _module(item: pytest.Item) -> str:
    module = getattr(item, "module", None)
    return module.__name__.rsplit(".", 1)[-1] if module is not None else ""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    suite = session.config.stash[SUITE]
    reports = suite.report()
    path = session.config.getoption("bringup_report")
    if path:
        write_report(Path(path), reports)
    if any(r.unreachable for r in reports.values()) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    suite = config.stash[SUITE]
    for node in suite.nodes.values():
        if node.outputs.unreachable:
            terminalreporter.write_line(f"UNREACHABLE {node.name}: {node.outputs.message}")

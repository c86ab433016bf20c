"""Runs and their owners: side by side over other nodes, resumed once their process is gone."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bringup.admit import database
from bringup.admit.admission import AdmissionRequest, admit
from bringup.admit.database import MIGRATIONS
from bringup.admit.ledger import Ledger, LedgerError, Owner
from bringup.validation.report import HostReport, TestOutcome
from tests.unit.admit.ledgers import (
    ROOT,
    STACK,
    Backend,
)

SLEEPER = "import sys, time; print(open('/proc/self/stat').read(), flush=True); time.sleep(600)"


def _owner_of(child: subprocess.Popen[str]) -> Owner:
    """The Owner a child would record, read from outside it."""
    me = Owner.current()
    boot, namespace, _ = me.started.split("/")
    assert child.stdout is not None
    stat = child.stdout.readline()
    return Owner(me.host, child.pid, f"{boot}/{namespace}/{stat.rpartition(')')[2].split()[19]}")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
    yield child
    child.kill()
    child.wait()


# --- owners


def test_this_process_is_not_gone() -> None:
    me = Owner.current()
    assert (me.host, me.pid) == (socket.gethostname(), os.getpid())
    assert me == Owner.current()
    assert not me.is_gone()
    assert str(me) == f"pid {os.getpid()} on {socket.gethostname()}"


def test_a_process_is_gone_once_it_ends(sleeper: subprocess.Popen[str]) -> None:
    owner = _owner_of(sleeper)
    assert not owner.is_gone()
    sleeper.kill()
    os.waitid(os.P_PID, sleeper.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped: a zombie
    assert owner.is_gone()
    sleeper.wait()
    assert owner.is_gone()


def test_a_reused_pid_is_not_the_owner() -> None:
    me = Owner.current()
    boot, namespace, ticks = me.started.split("/")
    earlier = replace(me, started=f"{boot}/{namespace}/{int(ticks) - 1}")
    assert earlier.is_gone()


def test_an_owner_on_a_restarted_host_is_gone() -> None:
    me = Owner.current()
    _, namespace, ticks = me.started.split("/")
    assert replace(
        me, started=f"00000000-0000-0000-0000-000000000000/{namespace}/{ticks}"
    ).is_gone()


def test_an_owner_this_machine_cannot_look_at_is_not_gone(sleeper: subprocess.Popen[str]) -> None:
    owner = _owner_of(sleeper)
    sleeper.kill()
    sleeper.wait()
    assert owner.is_gone()
    # on another host, or in another pid namespace of this one: nothing to tell it ended
    assert not replace(owner, host=f"{owner.host}-elsewhere").is_gone()
    boot, _, ticks = owner.started.split("/")
    assert not replace(owner, started=f"{boot}/pid:[1]/{ticks}").is_gone()


def test_an_owner_without_a_start_is_its_pid(sleeper: subprocess.Popen[str]) -> None:
    owner = replace(_owner_of(sleeper), started="")
    assert not owner.is_gone()
    sleeper.kill()
    sleeper.wait()
    assert owner.is_gone()


# --- runs in the ledger

ELSEWHERE = Owner("elsewhere", 4242, "")


def test_a_run_records_its_owner(ledger: Ledger) -> None:
    first = ledger.start_run(STACK, ["n1"], {})
    second = ledger.start_run(STACK, ["n2", "n3"], {"burn_in": False}, owner=ELSEWHERE)
    ledger.start_run("other", ["n1"], {})
    assert first.owner == Owner.current()
    assert ledger.unfinished_runs(STACK) == [first, second]
    assert [(r.hosts, r.owner) for r in ledger.unfinished_runs(STACK)] == [
        (("n1",), Owner.current()),
        (("n2", "n3"), ELSEWHERE),
    ]
    assert ledger.unfinished_run(STACK) == second
    ledger.finish_run(first.id)
    assert ledger.unfinished_runs(STACK) == [second]


def test_runs_are_every_run_of_a_stack_oldest_first(ledger: Ledger) -> None:
    done = ledger.start_run(STACK, ["n1", "n2"], {"burn_in": True})
    failed = ledger.start_run(STACK, ["n3"], {})
    ledger.start_run("other", ["n1"], {})
    running = ledger.start_run(STACK, ["n4"], {}, owner=ELSEWHERE)
    ledger.finish_run(done.id)
    ledger.finish_run(failed.id, "failed")
    runs = ledger.runs(STACK)
    assert [(r.id, r.hosts, r.status, r.owner) for r in runs] == [
        (done.id, ("n1", "n2"), "finished", Owner.current()),
        (failed.id, ("n3",), "failed", Owner.current()),
        (running.id, ("n4",), "running", ELSEWHERE),
    ]
    assert runs[0].settings == {"burn_in": True}
    assert runs[0].started_at == done.started_at
    for ended in runs[:2]:
        assert ended.finished_at is not None
        assert ended.started_at <= ended.finished_at
    assert runs[2] == running
    assert ledger.runs("nothing") == []


def test_an_exclusive_start_refuses_a_run_sharing_a_host(ledger: Ledger) -> None:
    held = ledger.start_run(STACK, ["n1", "n2"], {}, owner=ELSEWHERE)
    with pytest.raises(LedgerError, match=rf"run {held.id} \(pid 4242 on elsewhere\) .* n2 too"):
        ledger.start_run(STACK, ["n2", "n3"], {}, exclusive=True)
    beside = ledger.start_run(STACK, ["n3", "n4"], {}, exclusive=True)
    assert ledger.unfinished_runs(STACK) == [held, beside]


def test_claim_run_takes_a_run_over_once(ledger: Ledger) -> None:
    run = ledger.start_run(STACK, ["n1"], {}, owner=ELSEWHERE)
    assert ledger.claim_run(run.id, Owner.current()) is None  # not its owner
    claimed = ledger.claim_run(run.id, ELSEWHERE)
    assert claimed == replace(run, owner=Owner.current())
    assert ledger.claim_run(run.id, ELSEWHERE) is None  # a second process comes too late
    assert ledger.unfinished_runs(STACK) == [claimed]
    ledger.finish_run(run.id)
    assert ledger.claim_run(run.id, Owner.current()) is None
    with pytest.raises(LedgerError, match="run nope: no such run"):
        ledger.claim_run("nope", None)


def test_claim_run_refuses_while_another_run_shares_a_host(ledger: Ledger) -> None:
    run = ledger.start_run(STACK, ["n1", "n2"], {}, owner=ELSEWHERE)
    other = ledger.start_run(STACK, ["n2"], {}, owner=ELSEWHERE)
    with pytest.raises(LedgerError, match=rf"run {other.id} .* judges n2 too"):
        ledger.claim_run(run.id, ELSEWHERE)
    assert ledger.unfinished_runs(STACK) == [run, other]


def test_abandon_run_closes_a_run_of_its_owner_only(ledger: Ledger, backend: Backend) -> None:
    run = ledger.start_run(STACK, ["n1"], {}, owner=ELSEWHERE)
    assert not ledger.abandon_run(run.id, Owner.current())
    assert ledger.unfinished_runs(STACK) == [run]
    assert ledger.abandon_run(run.id, ELSEWHERE)
    assert not ledger.abandon_run(run.id, ELSEWHERE)
    assert ledger.unfinished_runs(STACK) == []
    assert backend.sql(f"SELECT status FROM runs WHERE id = '{run.id}'") == [("failed",)]


def test_runs_recorded_before_owners_count_as_abandoned(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS[:1])
    backend.open().close()
    settings = _request(["n1"], tmp_path).settings()
    backend.sql(
        "INSERT INTO runs (id, stack, hosts, settings, started_at, status) VALUES "
        f"""('old', 'lab', '["n1"]', '{json.dumps(settings)}', '2020-01-01', 'running')"""
    )
    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS)
    with backend.open() as ledger:
        (old,) = ledger.unfinished_runs(STACK)
        assert (old.id, old.owner) == ("old", None)
        result = admit(_request(["n1"], tmp_path), ledger, suite=_healthy)
        assert (result.run_id, result.resumed) == ("old", True)
    assert backend.sql("SELECT MAX(version) FROM schema_migrations") == [(MIGRATIONS[-1].version,)]


# --- admission runs, each in a process of its own

ADMIT = """
import json, sys, time
from pathlib import Path
from bringup.admit.admission import AdmissionRequest, admit
from bringup.admit.ledger import Ledger
from bringup.validation.report import HostReport, TestOutcome

spec = json.loads(sys.argv[1])

def wait_for(path):
    deadline = time.monotonic() + 60
    while not Path(path).exists():
        if time.monotonic() > deadline:
            sys.exit(f"{path} never appeared")
        time.sleep(0.01)

def suite(inventory, hosts, **_):
    for path in spec.get("touch", []):
        Path(path).touch()
    for path in spec.get("wait", []):
        wait_for(path)
    if spec.get("hang_on") in hosts:
        Path(spec["stuck"]).touch()
        time.sleep(600)
    return {h: HostReport(h, (TestOutcome(f"gpu[{h}]", "test_gpu", "passed"),)) for h in hosts}

request = AdmissionRequest(
    stack="lab",
    hosts=tuple(spec["hosts"]),
    inventory=Path("/nonexistent/hosts.yml"),
    work=Path(spec["work"]),
    burn_in=False,
    batch=spec.get("batch", 64),
)
target = spec["target"]
with Ledger.open(target) if "://" in target else Ledger.open(path=Path(target)) as ledger:
    result = admit(request, ledger, suite=suite)
print(json.dumps({"run": result.run_id, "resumed": result.resumed, "verdicts": {
    n: v.verdict for n, v in result.verdicts.items()}}))
"""


def _request(hosts: Sequence[str], work: Path) -> AdmissionRequest:
    return AdmissionRequest(
        stack=STACK,
        hosts=tuple(hosts),
        inventory=Path("/nonexistent/hosts.yml"),
        work=work,
        burn_in=False,
        batch=1,
    )


def _healthy(inventory: Path, hosts: Sequence[str], **_: Any) -> dict[str, HostReport]:
    return {h: HostReport(h, (TestOutcome(f"gpu[{h}]", "test_gpu", "passed"),)) for h in hosts}


class Recording:
    """A healthy suite that remembers which hosts it validated."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, inventory: Path, hosts: Sequence[str], **_: Any) -> dict[str, HostReport]:
        self.calls.append(list(hosts))
        return _healthy(inventory, hosts)


def _admission(backend: Backend, tmp_path: Path, **spec: Any) -> subprocess.Popen[str]:
    spec = {"target": backend.target, "work": str(tmp_path / "work"), **spec}
    argv = [sys.executable, "-c", ADMIT, json.dumps(spec)]
    return subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _result(child: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout)
    return result


def _wait_for(path: Path, child: subprocess.Popen[str]) -> None:
    """Wait until `child` creates `path`; fail the test if it ends first, or takes minutes."""
    deadline = time.monotonic() + 120
    while not path.exists():
        if child.poll() is not None:
            pytest.fail(f"the admission ended early: {child.communicate()[1]}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the admission never made {path}: {child.communicate()[1]}")
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=0.02)


def _stuck(backend: Backend, tmp_path: Path, hosts: list[str], on: str) -> subprocess.Popen[str]:
    """An admission of `hosts` (one per batch) that hangs in the suite while validating `on`."""
    stuck = tmp_path / f"stuck-{on}"
    child = _admission(backend, tmp_path, hosts=hosts, batch=1, hang_on=on, stuck=str(stuck))
    _wait_for(stuck, child)
    return child


def _kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()


def test_runs_over_other_nodes_go_on_side_by_side(backend: Backend, tmp_path: Path) -> None:
    """Two racks admitted at once: each run is started while the other one is validating."""
    a, b = tmp_path / "a-validating", tmp_path / "b-validating"
    first = _admission(backend, tmp_path, hosts=["n1", "n2"], touch=[str(a)], wait=[str(b)])
    _wait_for(a, first)
    second = _admission(backend, tmp_path, hosts=["n3", "n4"], touch=[str(b)], wait=[str(a)])
    one, two = _result(first), _result(second)
    assert one["verdicts"] == {"n1": "admitted", "n2": "admitted"}
    assert two["verdicts"] == {"n3": "admitted", "n4": "admitted"}
    assert not one["resumed"]
    assert not two["resumed"]
    with backend.open() as ledger:
        assert ledger.unfinished_runs(STACK) == []
        assert sorted(ledger.verdicts(one["run"])) == ["n1", "n2"]
        assert sorted(ledger.verdicts(two["run"])) == ["n3", "n4"]
    runs = backend.sql("SELECT id, status FROM runs ORDER BY id")
    assert sorted(runs) == sorted([(one["run"], "finished"), (two["run"], "finished")])


def test_a_killed_admission_is_resumed(backend: Backend, tmp_path: Path) -> None:
    child = _stuck(backend, tmp_path, ["n1", "n2", "n3"], on="n2")
    with backend.open() as ledger:
        (killed,) = ledger.unfinished_runs(STACK)
        assert ledger.judged(killed.id) == {"n1"}
        _kill(child)
        suite = Recording()
        result = admit(_request(["n1", "n2", "n3"], tmp_path / "work"), ledger, suite=suite)
        assert (result.run_id, result.resumed) == (killed.id, True)
        assert suite.calls == [["n2"], ["n3"]]  # n1 keeps the verdict the killed process gave
        assert result.with_verdict("admitted") == ["n1", "n2", "n3"]
        assert ledger.unfinished_runs(STACK) == []
    assert backend.sql("SELECT COUNT(*) FROM verdicts") == [(3,)]


def test_a_run_whose_process_runs_is_left_alone(backend: Backend, tmp_path: Path) -> None:
    child = _stuck(backend, tmp_path, ["n1", "n2"], on="n1")
    work = tmp_path / "work"
    try:
        with backend.open() as ledger:
            (running,) = ledger.unfinished_runs(STACK)
            # sharing a host, or the very same hosts: refused
            for hosts, shared in ((["n2", "n3"], "n2"), (["n1", "n2"], "n1, n2")):
                with pytest.raises(LedgerError) as error:
                    admit(_request(hosts, work), ledger, suite=Recording())
                (line,) = error.value.lines()
                assert f"run {running.id} (pid {child.pid} on {socket.gethostname()}," in line
                assert f"is unfinished and judges {shared}: it may still be running" in line
            assert ledger.unfinished_runs(STACK) == [running]
            # once its process is gone, a request sharing a host closes it as failed
            _kill(child)
            result = admit(_request(["n2", "n3"], work), ledger, suite=Recording())
            assert not result.resumed
            assert result.with_verdict("admitted") == ["n2", "n3"]
            assert ledger.unfinished_runs(STACK) == []
    finally:
        child.kill()
        child.communicate()
    statuses = backend.sql(f"SELECT status FROM runs WHERE id = '{running.id}'")
    assert statuses == [("failed",)]


def test_an_abandoned_run_over_other_nodes_waits_to_be_resumed(
    backend: Backend, tmp_path: Path
) -> None:
    _kill(_stuck(backend, tmp_path, ["n1"], on="n1"))
    work = tmp_path / "work"
    with backend.open() as ledger:
        (abandoned,) = ledger.unfinished_runs(STACK)
        other = admit(_request(["n2"], work), ledger, suite=Recording())
        assert not other.resumed
        assert ledger.unfinished_runs(STACK) == [abandoned]
        resumed = admit(_request(["n1"], work), ledger, suite=Recording())
        assert (resumed.run_id, resumed.resumed) == (abandoned.id, True)


def test_a_run_this_process_left_is_resumed(ledger: Ledger, tmp_path: Path) -> None:
    def dies(inventory: Path, hosts: Sequence[str], **_: Any) -> dict[str, HostReport]:
        if "n2" in hosts:
            raise KeyboardInterrupt
        return _healthy(inventory, hosts)

    request = _request(["n1", "n2"], tmp_path / "work")
    with pytest.raises(KeyboardInterrupt):
        admit(request, ledger, suite=dies)
    (left,) = ledger.unfinished_runs(STACK)
    suite = Recording()
    result = admit(request, ledger, suite=suite)
    assert (result.run_id, result.resumed, suite.calls) == (left.id, True, [["n2"]])

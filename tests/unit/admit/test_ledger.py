"""The admission ledger on SQLite and on a throwaway PostgreSQL: schema, lifecycle, crashes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from bringup.admit import database
from bringup.admit.database import MIGRATIONS, Migration
from bringup.admit.ledger import Ledger, LedgerError
from tests.unit.admit.ledgers import GPU, LINK, ROOT, STACK, Backend, walk

# --- schema migrations


def test_migrations_are_numbered_one_by_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_fresh_database_gets_every_migration(backend: Backend) -> None:
    backend.open().close()
    versions = backend.sql("SELECT version FROM schema_migrations ORDER BY version")
    assert versions == [(m.version,) for m in MIGRATIONS]
    for table in ("runs", "verdicts", "findings", "nodes", "state_changes"):
        assert backend.sql(f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_reopening_applies_nothing(backend: Backend) -> None:
    backend.open().close()
    applied = backend.sql("SELECT version, applied_at FROM schema_migrations")
    backend.open().close()
    assert backend.sql("SELECT version, applied_at FROM schema_migrations") == applied


def test_a_newer_schema_is_refused(backend: Backend) -> None:
    backend.open().close()
    backend.sql("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')")
    known = MIGRATIONS[-1].version
    with pytest.raises(LedgerError, match=rf"schema version 999 is newer .* \({known}\)"):
        backend.open()


def test_a_failed_migration_applies_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.open().close()
    broken = Migration(
        MIGRATIONS[-1].version + 1, "broken", ("CREATE TABLE extra (x INTEGER)", "CREATE TABL y")
    )
    monkeypatch.setattr(database, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(LedgerError, match=rf"migration {broken.version} \(broken\) failed"):
        backend.open()
    assert backend.sql("SELECT MAX(version) FROM schema_migrations") == [(MIGRATIONS[-1].version,)]
    with pytest.raises(Backend.errors):
        backend.sql("SELECT COUNT(*) FROM extra")


def test_sqlite_is_durable_and_created_with_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ledger.db"
    db = database.SQLite(path)
    try:
        with db.transaction(write=False) as tx:
            assert tx.row("PRAGMA journal_mode") == ("wal",)
            assert tx.row("PRAGMA synchronous") == (2,)  # FULL
            assert tx.row("PRAGMA foreign_keys") == (1,)
            assert tx.row("PRAGMA busy_timeout") == (30_000,)
    finally:
        db.close()


# --- opening (damaged files, locks and passwords: test_ledger_files.py, test_ledger_secrets.py)


def test_open_needs_a_url_or_a_path() -> None:
    with pytest.raises(LedgerError, match="postgresql:// URL or a SQLite path"):
        Ledger.open()


# --- node lifecycle


@pytest.mark.parametrize(
    "path",
    [
        ["provisioned", "burn-in", "validating", "admitted"],
        ["provisioned", "burn-in", "quarantined"],
        [
            "provisioned",
            "burn-in",
            "validating",
            "unreachable",
            "repaired",
            "burn-in",
            "revalidated",
            "admitted",
        ],
        [
            "provisioned",
            "burn-in",
            "validating",
            "quarantined",
            "repaired",
            "burn-in",
            "revalidated",
            "admitted",
            "burn-in",
            "validating",
        ],
        [
            "provisioned",
            "burn-in",
            "validating",
            "admitted",
            "validating",
            "quarantined",
            "validating",
        ],
        ["provisioned", "burn-in", "validating", "admitted", "burn-in", "validating", "admitted"],
        ["provisioned", "burn-in", "validating", "quarantined", "provisioned", "burn-in"],
        ["provisioned", "validating", "admitted"],  # a quick gate without burn-in
        ["provisioned", "burn-in", "validating", "quarantined", "repaired", "revalidated"],
        ["provisioned", "burn-in", "validating", "burn-in", "validating"],  # a run started again
    ],
)
def test_allowed_moves(ledger: Ledger, path: list[str]) -> None:
    walk(ledger, "node-1", path)
    assert [state for _, state, _, _ in ledger.history(STACK, "node-1")] == path
    status = ledger.node_state(STACK, "node-1")
    assert status is not None
    assert (status.state, status.reason) == (path[-1], f"to {path[-1]}")


@pytest.mark.parametrize(
    ("path", "state"),
    [
        ([], "burn-in"),
        ([], "admitted"),
        (["provisioned"], "revalidated"),
        (["provisioned"], "admitted"),
        (["provisioned", "burn-in"], "revalidated"),
        (["provisioned", "burn-in", "validating"], "provisioned"),
        (["provisioned", "burn-in", "validating"], "repaired"),
        (["provisioned", "burn-in", "validating", "admitted"], "repaired"),
        (["provisioned", "burn-in", "validating", "quarantined", "repaired"], "validating"),
        (["provisioned", "burn-in", "validating", "quarantined", "repaired"], "provisioned"),
        (
            ["provisioned", "burn-in", "validating", "quarantined", "repaired", "burn-in"],
            "validating",
        ),
    ],
)
def test_refused_moves_name_node_from_and_to(ledger: Ledger, path: list[str], state: str) -> None:
    walk(ledger, "node-1", path)
    before = ledger.history(STACK, "node-1")
    current = path[-1] if path else "no state"
    with pytest.raises(
        LedgerError, match=re.escape(f"lab/node-1: cannot move from {current} to {state}")
    ):
        ledger.record_state(STACK, "node-1", state)
    assert ledger.history(STACK, "node-1") == before


def test_recording_the_current_state_again_changes_nothing(ledger: Ledger) -> None:
    walk(ledger, "node-1", ["provisioned", "burn-in"])
    before = ledger.node_state(STACK, "node-1")
    ledger.record_state(STACK, "node-1", "burn-in", reason="again")
    assert ledger.node_state(STACK, "node-1") == before
    assert len(ledger.history(STACK, "node-1")) == 2


def test_an_unknown_state_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="lab/node-1: unknown state 'racked'"):
        ledger.record_state(STACK, "node-1", "racked")


def test_mark_repaired_needs_a_note_and_a_faulty_node(ledger: Ledger) -> None:
    walk(ledger, "node-1", ["provisioned", "burn-in", "validating", "quarantined"])
    with pytest.raises(LedgerError, match="needs a note"):
        ledger.mark_repaired(STACK, "node-1", "  ")
    ledger.mark_repaired(STACK, "node-1", "replaced GPU 3 (serial 1650)")
    _, state, run_id, reason = ledger.history(STACK, "node-1")[-1]
    assert (state, run_id, reason) == ("repaired", None, "replaced GPU 3 (serial 1650)")
    walk(ledger, "node-2", ["provisioned", "burn-in", "validating", "admitted"])
    with pytest.raises(LedgerError, match="cannot move from admitted to repaired"):
        ledger.mark_repaired(STACK, "node-2", "nothing to do")


# --- verdicts and findings


def test_a_verdict_is_recorded_once(ledger: Ledger, backend: Backend) -> None:
    run = ledger.start_run(STACK, ["node-1"], {})
    walk(ledger, "node-1", ["provisioned", "burn-in", "validating"], run.id)
    assert ledger.record_verdict(run.id, STACK, "node-1", "quarantined", [GPU, LINK], "ecc")
    changes = ledger.history(STACK, "node-1")
    assert not ledger.record_verdict(run.id, STACK, "node-1", "admitted", [], "retry")
    assert backend.sql("SELECT COUNT(*) FROM verdicts") == [(1,)]
    assert backend.sql("SELECT COUNT(*) FROM findings") == [(2,)]
    assert ledger.history(STACK, "node-1") == changes
    assert ledger.verdicts(run.id)["node-1"].verdict == "quarantined"


def test_findings_round_trip_in_order(ledger: Ledger) -> None:
    run = ledger.start_run(STACK, ["node-1", "node-2"], {})
    findings = [LINK, GPU, replace(GPU, component="gpu:node-1/0", attributes={})]
    walk(ledger, "node-1", ["provisioned", "burn-in", "validating"], run.id)
    ledger.record_verdict(run.id, STACK, "node-1", "quarantined", findings, "3 findings")
    walk(ledger, "node-2", ["provisioned", "burn-in", "validating"], run.id)
    ledger.record_verdict(run.id, STACK, "node-2", "admitted", [])
    verdicts = ledger.verdicts(run.id)
    assert sorted(verdicts) == ["node-1", "node-2"]
    assert verdicts["node-1"].findings == tuple(findings)
    assert verdicts["node-1"].at.tzinfo == UTC
    assert verdicts["node-2"].findings == ()
    status = ledger.node_state(STACK, "node-1")
    assert status is not None
    assert status.findings == tuple(findings)


def test_status_and_history(ledger: Ledger) -> None:
    run = ledger.start_run(STACK, ["node-2", "node-1"], {"burn_in": True})
    for node in ("node-2", "node-1", "node-3"):
        walk(ledger, node, ["provisioned", "burn-in"], run.id)
    ledger.record_verdict(run.id, STACK, "node-2", "quarantined", [GPU], "gpu:node-1/3 ecc")
    walk(ledger, "node-1", ["validating"], run.id)
    ledger.record_verdict(run.id, STACK, "node-1", "admitted", [], "all checks passed")
    ledger.record_state("other", "node-1", "provisioned")
    status = ledger.status(STACK)
    assert [(s.node, s.state, s.run_id, s.reason, s.findings) for s in status] == [
        ("node-1", "admitted", run.id, "all checks passed", ()),
        ("node-2", "quarantined", run.id, "gpu:node-1/3 ecc", (GPU,)),
        ("node-3", "burn-in", run.id, "to burn-in", ()),
    ]
    history = ledger.history(STACK, "node-2")
    assert [(state, run_id, reason) for _, state, run_id, reason in history] == [
        ("provisioned", run.id, "to provisioned"),
        ("burn-in", run.id, "to burn-in"),
        ("quarantined", run.id, "gpu:node-1/3 ecc"),
    ]
    times = [at for at, _, _, _ in history]
    assert times == sorted(times)
    assert all(at.tzinfo == UTC for at in times)
    assert status[1].since == times[-1]
    assert ledger.node_state(STACK, "node-9") is None
    assert ledger.history(STACK, "node-9") == []


def test_node_status_carries_the_latest_verdicts_findings(ledger: Ledger) -> None:
    first = ledger.start_run(STACK, ["node-1"], {})
    walk(ledger, "node-1", ["provisioned", "burn-in", "validating"], first.id)
    ledger.record_verdict(first.id, STACK, "node-1", "quarantined", [GPU])
    ledger.finish_run(first.id)
    second = ledger.start_run(STACK, ["node-1"], {})
    walk(ledger, "node-1", ["validating"], second.id)
    ledger.record_verdict(second.id, STACK, "node-1", "quarantined", [LINK])
    ledger.mark_repaired(STACK, "node-1", "reseated the cable")
    status = ledger.node_state(STACK, "node-1")
    assert status is not None
    assert (status.state, status.findings) == ("repaired", (LINK,))


def test_a_refused_verdict_records_nothing(ledger: Ledger, backend: Backend) -> None:
    run = ledger.start_run(STACK, ["node-1"], {})
    walk(ledger, "node-1", ["provisioned"], run.id)
    with pytest.raises(LedgerError, match="cannot move from provisioned to admitted"):
        ledger.record_verdict(run.id, STACK, "node-1", "admitted", [GPU])
    assert backend.sql("SELECT COUNT(*) FROM verdicts") == [(0,)]
    assert backend.sql("SELECT COUNT(*) FROM findings") == [(0,)]
    assert ledger.judged(run.id) == set()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "drained"}, "verdict 'drained'"),
        ({"run_id": "no-such-run"}, "run no-such-run: no such run"),
        ({"stack": "prod"}, "is of stack lab, not prod"),
    ],
)
def test_bad_verdicts_are_refused(ledger: Ledger, change: dict[str, str], message: str) -> None:
    run = ledger.start_run(STACK, ["node-1"], {})
    walk(ledger, "node-1", ["provisioned", "burn-in", "validating"], run.id)
    arguments = {"run_id": run.id, "stack": STACK, "node": "node-1", "verdict": "admitted"}
    with pytest.raises(LedgerError, match=message):
        ledger.record_verdict(**(arguments | change), findings=[])


# --- runs, for resuming


def test_unfinished_run_is_the_latest_running_one(ledger: Ledger) -> None:
    assert ledger.unfinished_run(STACK) is None
    old = ledger.start_run(STACK, ["node-1"], {})
    new = ledger.start_run(STACK, ["node-2", "node-1"], {"burn_in": False, "batch": [8]})
    ledger.start_run("other", ["node-1"], {})
    assert ledger.unfinished_run(STACK) == new
    assert new.started_at.tzinfo == UTC
    ledger.finish_run(new.id, "failed")
    assert ledger.unfinished_run(STACK) == old
    ledger.finish_run(old.id)
    ledger.finish_run(old.id)
    assert ledger.unfinished_run(STACK) is None


def test_finish_run_refuses_what_it_cannot_do(ledger: Ledger) -> None:
    run = ledger.start_run(STACK, ["node-1"], {})
    with pytest.raises(LedgerError, match="status 'done'"):
        ledger.finish_run(run.id, "done")
    with pytest.raises(LedgerError, match="run nope: no such run"):
        ledger.finish_run("nope")
    ledger.finish_run(run.id)
    with pytest.raises(LedgerError, match="already finished, cannot mark it failed"):
        ledger.finish_run(run.id, "failed")
    walk(ledger, "node-1", ["provisioned", "burn-in", "validating"], run.id)
    with pytest.raises(LedgerError, match="is finished: it takes no more verdicts"):
        ledger.record_verdict(run.id, STACK, "node-1", "admitted", [])


def test_judged_is_per_run(ledger: Ledger) -> None:
    first = ledger.start_run(STACK, ["node-1", "node-2"], {})
    for node in ("node-1", "node-2"):
        walk(ledger, node, ["provisioned", "burn-in", "validating"], first.id)
    ledger.record_verdict(first.id, STACK, "node-2", "unreachable", [])
    second = ledger.start_run(STACK, ["node-1", "node-2"], {})
    ledger.record_verdict(second.id, STACK, "node-1", "admitted", [])
    assert ledger.judged(first.id) == {"node-2"}
    assert ledger.judged(second.id) == {"node-1"}


# --- a writer killed at any moment

CHILD = """
import sys, time
from pathlib import Path
from bringup.validation.report import Finding
from tests.unit.admit.ledgers import GPU, LINK, ROOT, STACK, Backend, walk
from bringup.admit.ledger import Ledger

target, count, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ledger = Ledger.open(target) if "://" in target else Ledger.open(path=Path(target))
hosts = [f"node-{i:02d}" for i in range(count)]
run = ledger.unfinished_run("crash") or ledger.start_run("crash", hosts, {"burn_in": True})
judged = ledger.judged(run.id)
for i, host in enumerate(hosts):
    if host in judged:
        continue
    status = ledger.node_state("crash", host)
    if status is None:
        ledger.record_state("crash", host, "provisioned", run_id=run.id)
    if status is None or status.state == "provisioned":
        ledger.record_state("crash", host, "burn-in", run_id=run.id)
    ledger.record_state("crash", host, "validating", run_id=run.id)
    verdict = ("admitted", "quarantined", "unreachable")[i % 3]
    findings = [
        Finding(f"gpu:{host}/{g}", "ecc", str(g + 1), "0", attributes={"serial": f"S{i}-{g}"})
        for g in range(i % 4)
    ]
    ledger.record_verdict(run.id, "crash", host, verdict, findings, reason=f"{verdict} {i}")
    time.sleep(pause)
ledger.finish_run(run.id)
ledger.close()
"""
NODES = 30
KILL_POINTS = (2, 5, 9, 14, 20, 25)


def _writer(target: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", CHILD, target, str(NODES), "0.01"]
    return subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE)


def _kill_after(backend: Backend, target: str, verdicts: int) -> int:
    """Start a writer and kill it the moment `verdicts` verdicts are committed."""
    child = _writer(target)
    deadline = time.monotonic() + 60
    with backend.connect(target) as query:
        while (seen := query("SELECT COUNT(*) FROM verdicts")[0][0]) < verdicts:
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                stderr = child.communicate()[1]
                pytest.fail(f"the writer ended before {verdicts} verdicts: {stderr!r}")
            time.sleep(0.0005)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    return int(seen)


def _finish(target: str) -> None:
    child = _writer(target)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr.decode()


def _outcome(backend: Backend, target: str) -> dict[str, Any]:
    with backend.open(target) as ledger:
        assert ledger.unfinished_run("crash") is None
        runs = backend.sql("SELECT id, status FROM runs", target)
        ((run_id, _),) = runs
        return {
            "runs": [status for _, status in runs],
            "verdicts": {n: (v.verdict, v.findings) for n, v in ledger.verdicts(run_id).items()},
            "status": [(s.node, s.state, s.reason, s.findings) for s in ledger.status("crash")],
            "history": {
                s.node: [(state, reason) for _, state, _, reason in ledger.history("crash", s.node)]
                for s in ledger.status("crash")
            },
            "rows": [
                backend.sql(f"SELECT COUNT(*) FROM {table}", target)[0][0]
                for table in ("verdicts", "findings", "nodes", "state_changes")
            ],
        }


def test_a_writer_killed_at_any_moment_resumes_without_loss_or_duplicates(
    backend: Backend,
) -> None:
    reference = backend.fresh()
    _finish(reference)
    crashed = backend.target
    backend.open(crashed).close()
    seen = [_kill_after(backend, crashed, at) for at in KILL_POINTS]
    assert seen == sorted(seen)
    assert seen[-1] < NODES
    _finish(crashed)
    expected, outcome = _outcome(backend, reference), _outcome(backend, crashed)
    assert outcome == expected
    assert expected["runs"] == ["finished"]
    assert len(expected["verdicts"]) == NODES
    assert expected["rows"] == [NODES, sum(i % 4 for i in range(NODES)), NODES, 4 * NODES]
    if backend.name == "sqlite":
        assert backend.sql("PRAGMA integrity_check", crashed) == [("ok",)]
        assert backend.sql("PRAGMA foreign_key_check", crashed) == []

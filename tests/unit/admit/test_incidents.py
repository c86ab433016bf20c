"""Incidents in the ledger: opened once per failing node, folded, held, closed; the move of an
admitted node to quarantine in service; the ledger of the release before incidents, migrated."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bringup.admit import database
from bringup.admit.database import MIGRATIONS, Transaction, timestamp
from bringup.admit.ledger import Incident, Ledger, LedgerError
from tests.unit.admit.ledgers import GPU, LINK, ROOT, STACK, Backend, PostgresServer, walk

ADMITTED = ["provisioned", "burn-in", "validating", "admitted"]
SEEN = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
JOB = {"id": "4711", "name": "train-llm", "state": "RUNNING", "user": "alice"}


def _open(ledger: Ledger, node: str = "node-1", at: datetime = SEEN) -> tuple[Incident, bool]:
    return ledger.open_incident(
        STACK,
        node,
        findings=[GPU, LINK],
        first_seen=at,
        trigger="interval",
        action="reset-gpu",
        jobs=[JOB],
        bundle="",
    )


# --- opening and folding


def test_an_incident_is_headed_by_its_first_finding_and_keeps_them_all(ledger: Ledger) -> None:
    walk(ledger, "node-1", ADMITTED)
    before = ledger.history(STACK, "node-1")
    incident, new = ledger.open_incident(
        STACK,
        "node-1",
        findings=[GPU, LINK],
        first_seen=SEEN,
        trigger="epilog",
        action="reset-gpu",
        jobs=[{"id": 4711, "name": "train-llm", "state": "RUNNING", "user": "alice"}],
        bundle=".state/incidents/lab/1",
    )
    assert new
    assert (incident.stack, incident.node, incident.status, incident.seen) == (
        STACK,
        "node-1",
        "open",
        1,
    )
    assert (incident.component, incident.check, incident.observed, incident.expected) == (
        "gpu:node-1/3",
        "ecc",
        "12 uncorrectable",
        "0",
    )
    assert incident.findings == (GPU, LINK)
    assert (incident.action, incident.trigger, incident.bundle) == (
        "reset-gpu",
        "epilog",
        ".state/incidents/lab/1",
    )
    assert incident.jobs == (JOB,)  # a job id given as a number is kept as text
    assert incident.first_seen_at == incident.last_seen_at == SEEN
    assert incident.opened_at.tzinfo == UTC
    assert incident.opened_at > SEEN
    assert (incident.scheduler, incident.breaker, incident.domain, incident.resolution) == (
        "",
        "",
        "",
        "",
    )
    assert incident.drained_at is incident.closed_at is None
    assert ledger.incidents(STACK) == [incident]
    # the node's state is quarantine_in_service's to change, not open_incident's
    assert ledger.history(STACK, "node-1") == before


def test_a_later_failing_verdict_folds_into_the_open_incident(ledger: Ledger) -> None:
    first, _ = _open(ledger)
    later, new = _open(ledger, at=SEEN + timedelta(minutes=5))
    assert not new
    assert later.id == first.id
    assert (later.seen, later.first_seen_at, later.last_seen_at) == (
        2,
        SEEN,
        SEEN + timedelta(minutes=5),
    )
    assert later.opened_at == first.opened_at
    # a verdict that arrives late, observed earlier, counts without moving the last sighting back
    late, new = _open(ledger, at=SEEN + timedelta(minutes=1))
    assert not new
    assert (late.seen, late.last_seen_at) == (3, SEEN + timedelta(minutes=5))
    assert ledger.incidents(STACK) == [late]


def test_a_held_incident_folds_too_and_other_nodes_and_stacks_get_their_own(
    ledger: Ledger,
) -> None:
    first, _ = _open(ledger)
    ledger.update_incident(first.id, status="held", breaker="circuit breaker: too many")
    folded, new = _open(ledger)
    assert (folded.id, folded.status, folded.seen, new) == (first.id, "held", 2, False)
    other, new = _open(ledger, "node-2")
    assert new
    assert other.id != first.id
    elsewhere, new = ledger.open_incident(
        "prod", "node-1", findings=[LINK], first_seen=SEEN, trigger="cli", action="check-cable"
    )
    assert new
    assert elsewhere.id not in (first.id, other.id)
    assert [i.node for i in ledger.incidents(STACK)] == ["node-2", "node-1"]
    assert [i.id for i in ledger.incidents("prod")] == [elsewhere.id]


def test_an_incident_needs_a_finding(ledger: Ledger, backend: Backend) -> None:
    with pytest.raises(LedgerError, match="lab/node-1: an incident needs at least one finding"):
        ledger.open_incident(
            STACK, "node-1", findings=[], first_seen=SEEN, trigger="cli", action="none"
        )
    assert backend.sql("SELECT COUNT(*) FROM incidents") == [(0,)]


# --- closing


def test_closing_ends_the_open_and_held_incidents_of_one_node(ledger: Ledger) -> None:
    first, _ = _open(ledger)
    ledger.update_incident(first.id, status="held")
    ledger.close_incidents(STACK, "node-1", "GPU 3 reset, healthy")
    other, _ = _open(ledger, "node-2")
    again, new = _open(ledger)  # failing after its repair: a new incident
    assert new
    assert again.id != first.id
    assert ledger.close_incidents(STACK, "node-1", "GPU 3 replaced (RMA 42)") == [again.id]
    assert ledger.close_incidents(STACK, "node-1", "nothing left open") == []
    closed = ledger.incidents(STACK, node="node-1")
    assert [(i.id, i.status, i.resolution) for i in closed] == [
        (again.id, "closed", "GPU 3 replaced (RMA 42)"),
        (first.id, "closed", "GPU 3 reset, healthy"),
    ]
    assert all(i.closed_at is not None and i.closed_at.tzinfo == UTC for i in closed)
    assert ledger.incidents(STACK, node="node-2") == [other]


def test_closing_needs_a_resolution(ledger: Ledger) -> None:
    _open(ledger)
    with pytest.raises(LedgerError, match="lab/node-1: closing incidents needs a resolution"):
        ledger.close_incidents(STACK, "node-1", "  ")
    assert [i.status for i in ledger.incidents(STACK)] == ["open"]


# --- what was done about it


def test_update_records_what_was_done_and_keeps_the_rest(ledger: Ledger) -> None:
    incident, _ = _open(ledger)
    drained = SEEN + timedelta(seconds=41.5)
    updated = ledger.update_incident(
        incident.id, scheduler="drained", drained_at=drained, domain="lab-nvl-r02"
    )
    assert (updated.scheduler, updated.drained_at, updated.domain) == (
        "drained",
        drained,
        "lab-nvl-r02",
    )
    assert updated.drain_after_s == 41.5
    assert (updated.status, updated.jobs, updated.seen) == ("open", (JOB,), 1)
    held = ledger.update_incident(
        incident.id, status="held", breaker="circuit breaker: 3 nodes", jobs=[], bundle="b/1"
    )
    assert (held.status, held.breaker, held.jobs, held.bundle, held.drained_at) == (
        "held",
        "circuit breaker: 3 nodes",
        (),
        "b/1",
        drained,
    )
    assert ledger.update_incident(incident.id) == held
    assert ledger.incidents(STACK) == [held]


def test_update_refuses_what_it_cannot_do(ledger: Ledger) -> None:
    incident, _ = _open(ledger)
    with pytest.raises(LedgerError, match=r"status 'closed', expected one of .*close_incidents"):
        ledger.update_incident(incident.id, status="closed")
    with pytest.raises(LedgerError, match="incident 999: no such incident"):
        ledger.update_incident(999, scheduler="drained")
    ledger.close_incidents(STACK, "node-1", "repaired")
    with pytest.raises(LedgerError, match=f"incident {incident.id} is closed: it cannot be open"):
        ledger.update_incident(incident.id, status="open")
    # what was done can still be written down after it closed: the scheduler's late answer
    late = ledger.update_incident(incident.id, scheduler="not in the scheduler")
    assert (late.status, late.scheduler) == ("closed", "not in the scheduler")


def test_summary_is_plain_data(ledger: Ledger) -> None:
    incident, _ = _open(ledger)
    drained = ledger.update_incident(incident.id, drained_at=SEEN + timedelta(seconds=3))
    summary = json.loads(json.dumps(drained.summary()))
    assert summary["findings"] == [GPU.to_json(), LINK.to_json()]
    assert (summary["component"], summary["check"], summary["jobs"]) == (
        "gpu:node-1/3",
        "ecc",
        [JOB],
    )
    assert (summary["first_seen_at"], summary["drain_after_s"], summary["closed_at"]) == (
        "2026-03-01T12:00:00.250000+00:00",
        3.0,
        None,
    )
    assert set(summary) >= {"id", "status", "scheduler", "bundle", "breaker", "domain", "seen"}


# --- listing


def test_incidents_newest_first_by_node_and_status(ledger: Ledger) -> None:
    one, _ = _open(ledger, "node-1")
    two, _ = _open(ledger, "node-2")
    three, _ = _open(ledger, "node-3")
    ledger.update_incident(two.id, status="held")
    ledger.close_incidents(STACK, "node-3", "cable reseated")

    def ids(**query: object) -> list[int]:
        return [i.id for i in ledger.incidents(STACK, **query)]  # type: ignore[arg-type]

    assert ids() == [three.id, two.id, one.id]
    assert ids(node="node-2") == [two.id]
    assert ids(status="held") == [two.id]
    assert ids(status=("open", "held")) == [two.id, one.id]
    assert ids(node="node-3", status="open") == []
    assert ledger.incidents("prod") == []
    with pytest.raises(LedgerError, match=r"incident status 'drained': expected one of"):
        ledger.incidents(STACK, status="drained")


def test_drained_since_is_the_window_the_breaker_counts(ledger: Ledger) -> None:
    now = SEEN + timedelta(hours=1)
    drains = {
        "node-1": now - timedelta(seconds=601),  # just before the window
        "node-2": now - timedelta(seconds=600),  # at its start: counted
        "node-3": now - timedelta(seconds=10),
    }
    for node, at in drains.items():
        incident, _ = _open(ledger, node)
        ledger.update_incident(incident.id, scheduler="drained", drained_at=at)
    _open(ledger, "node-4")  # held or not told: never drained
    ledger.close_incidents(STACK, "node-3", "rebooted")  # repaired since, still drained within
    ledger.open_incident(
        "prod", "node-9", findings=[GPU], first_seen=SEEN, trigger="cli", action="reboot"
    )
    recent = ledger.drained_since(STACK, now - timedelta(seconds=600))
    assert [(i.node, i.drained_at, i.status) for i in recent] == [
        ("node-3", drains["node-3"], "closed"),
        ("node-2", drains["node-2"], "open"),
    ]
    assert ledger.drained_since(STACK, now) == []
    assert ledger.drained_since("prod", SEEN) == []


# --- quarantine in service


def test_an_admitted_node_moves_to_quarantine_for_its_incident(ledger: Ledger) -> None:
    walk(ledger, "node-1", ADMITTED)
    incident, _ = _open(ledger)
    reason = f"bringup: gpu:node-1/3 ecc (incident {incident.id})"
    assert ledger.quarantine_in_service(STACK, "node-1", incident.id, reason)
    status = ledger.node_state(STACK, "node-1")
    assert status is not None
    assert (status.state, status.run_id, status.reason) == ("quarantined", None, reason)
    # once out, it stays out: a second move changes nothing
    history = ledger.history(STACK, "node-1")
    assert not ledger.quarantine_in_service(STACK, "node-1", incident.id, "again")
    assert ledger.history(STACK, "node-1") == history
    # and it is repaired and judged again as any quarantined node is
    ledger.mark_repaired(STACK, "node-1", "reset GPU 3")
    walk(ledger, "node-1", ["burn-in", "revalidated", "admitted"])
    states = [state for _, state, _, _ in ledger.history(STACK, "node-1")]
    assert states[len(ADMITTED) :] == [
        "quarantined",
        "repaired",
        "burn-in",
        "revalidated",
        "admitted",
    ]


def test_a_node_admitted_again_has_its_incidents_closed_with_the_verdict(ledger: Ledger) -> None:
    walk(ledger, "node-1", ADMITTED)
    walk(ledger, "node-2", ADMITTED)
    incident, _ = _open(ledger)
    other, _ = _open(ledger, "node-2")
    ledger.quarantine_in_service(STACK, "node-1", incident.id, "bringup: gpu:node-1/3 ecc")
    ledger.mark_repaired(STACK, "node-1", "reset GPU 3")
    run = ledger.start_run(STACK, ["node-1"], {})
    walk(ledger, "node-1", ["burn-in", "revalidated"], run.id)
    assert [i.status for i in ledger.incidents(STACK, node="node-1")] == ["open"]
    ledger.record_verdict(run.id, STACK, "node-1", "admitted", [])
    [closed] = ledger.incidents(STACK, node="node-1")
    assert (closed.status, closed.resolution) == ("closed", f"admitted again by run {run.id}")
    assert closed.closed_at is not None
    assert [i.status for i in ledger.incidents(STACK, node="node-2")] == ["open"]
    assert other.status == "open"


def test_a_quarantine_verdict_leaves_the_incident_open(ledger: Ledger) -> None:
    walk(ledger, "node-1", ADMITTED)
    incident, _ = _open(ledger)
    ledger.quarantine_in_service(STACK, "node-1", incident.id, "bringup: gpu:node-1/3 ecc")
    ledger.mark_repaired(STACK, "node-1", "reset GPU 3")
    run = ledger.start_run(STACK, ["node-1"], {})
    walk(ledger, "node-1", ["burn-in", "revalidated"], run.id)
    ledger.record_verdict(run.id, STACK, "node-1", "quarantined", [GPU])
    assert [i.status for i in ledger.incidents(STACK, node="node-1")] == ["open"]


@pytest.mark.parametrize(
    "path",
    [
        [],  # never seen by the ledger
        ["provisioned", "burn-in", "validating"],  # being judged
        ["provisioned", "burn-in", "validating", "quarantined"],  # quarantined by a run
        ["provisioned", "burn-in", "validating", "unreachable", "repaired"],
    ],
)
def test_a_node_not_admitted_is_left_alone(ledger: Ledger, path: list[str]) -> None:
    walk(ledger, "node-1", path)
    before = ledger.history(STACK, "node-1")
    incident, _ = _open(ledger)
    assert not ledger.quarantine_in_service(STACK, "node-1", incident.id, "failing in service")
    assert ledger.history(STACK, "node-1") == before


def test_quarantine_needs_the_nodes_own_incident(ledger: Ledger) -> None:
    walk(ledger, "node-1", ADMITTED)
    others, _ = _open(ledger, "node-2")
    with pytest.raises(LedgerError, match=f"incident {others.id} is of lab/node-2, not lab/node-1"):
        ledger.quarantine_in_service(STACK, "node-1", others.id, "wrong incident")
    with pytest.raises(LedgerError, match="incident 999: no such incident"):
        ledger.quarantine_in_service(STACK, "node-1", 999, "no incident")
    assert ledger.node_state(STACK, "node-1").state == "admitted"  # type: ignore[union-attr]


# --- the ledger of the release before incidents


def test_a_version_2_ledger_keeps_its_data_when_migrated(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS[:2])
    with backend.open() as old:
        run = old.start_run(STACK, ["node-1", "node-2"], {"burn_in": True})
        for node in ("node-1", "node-2"):
            walk(old, node, ["provisioned", "burn-in", "validating"], run.id)
        # today's code closes an admitted node's incidents with its verdict, in a table the
        # version-2 schema lacks: the admission of node-1 is written as the state change alone
        walk(old, "node-1", ["admitted"], run.id)
        old.record_verdict(run.id, STACK, "node-2", "quarantined", [GPU, LINK], "ecc")
        old.finish_run(run.id)
        mark = old.mark_repaired(STACK, "node-2", "replaced GPU 3")
        before = (
            old.status(STACK),
            old.verdicts(run.id),
            {n: old.history(STACK, n) for n in ("node-1", "node-2")},
            old.latest_repairs(STACK),
        )
    assert backend.sql("SELECT MAX(version) FROM schema_migrations") == [(2,)]
    with pytest.raises(Backend.errors):
        backend.sql("SELECT COUNT(*) FROM incidents")

    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS)
    with backend.open() as ledger:
        after = (
            ledger.status(STACK),
            ledger.verdicts(run.id),
            {n: ledger.history(STACK, n) for n in ("node-1", "node-2")},
            ledger.latest_repairs(STACK),
        )
        assert after == before
        assert after[3] == {"node-2": mark}
        assert ledger.incidents(STACK) == []
        incident, new = _open(ledger)
        assert new
        assert ledger.quarantine_in_service(STACK, "node-1", incident.id, "failing in service")
    versions = backend.sql("SELECT version FROM schema_migrations ORDER BY version")
    assert versions == [(1,), (2,), (3,)]


# --- writers at once

OPEN = """
import sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from bringup.admit.ledger import Ledger
from bringup.validation.report import Finding

target, name, nodes, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
with Ledger.open(target) if "://" in target else Ledger.open(path=Path(target)) as ledger:
    while not go.exists():
        time.sleep(0.001)
    for i in range(nodes):  # each node's first verdicts race for its incident
        ledger.open_incident(
            "lab", f"node-{i}", findings=[Finding(f"gpu:node-{i}/0", "gpu.xid", name, "none")],
            first_seen=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=i),
            trigger="interval", action="reset-gpu",
        )
"""


def test_writers_opening_at_once_for_one_node_make_one_incident(
    backend: Backend, tmp_path: Path
) -> None:
    backend.open().close()
    go, nodes, names = tmp_path / "go", 30, ("watch-a", "watch-b", "watch-c")
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, backend.target, name, str(nodes), str(go)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    go.touch()
    for opener in openers:
        _, stderr = opener.communicate(timeout=120)
        assert opener.returncode == 0, stderr
    with backend.open() as ledger:
        incidents = ledger.incidents(STACK)
    assert sorted(i.node for i in incidents) == sorted(f"node-{i}" for i in range(nodes))
    assert {i.seen for i in incidents} == {len(names)}
    assert {i.observed for i in incidents} <= set(names)  # the first writer's verdict heads each


def test_the_schema_refuses_a_second_unclosed_incident_of_a_node(
    ledger: Ledger, backend: Backend
) -> None:
    first, _ = _open(ledger)
    columns = (
        "stack, node, component, check_name, observed, expected, findings, action, trigger, "
        "first_seen_at, opened_at, last_seen_at, seen, status, scheduler, jobs, bundle, breaker, "
        "domain, resolution"
    )

    def insert(node: str, status: str) -> None:
        at = timestamp(SEEN)
        backend.sql(
            f"INSERT INTO incidents ({columns}) VALUES ('{STACK}', '{node}', 'c', 'k', 'o', 'e', "
            f"'[]', 'none', 'cli', '{at}', '{at}', '{at}', 1, "
            f"'{status}', '', '[]', '', '', '', '')"
        )

    for status in ("open", "held"):
        with pytest.raises(Backend.errors, match=r"(?i)unique"):
            insert("node-1", status)
    insert("node-1", "closed")  # closed ones are history: any number
    insert("node-2", "held")
    assert [(i.node, i.status) for i in ledger.incidents(STACK)][1:] == [
        ("node-1", "closed"),
        ("node-1", "open"),
    ]
    assert ledger.incidents(STACK, node="node-1", status="open") == [first]


@pytest.mark.root  # PostgreSQL, whose writers do not exclude each other as SQLite's do
def test_a_writer_that_loses_the_race_to_open_folds_into_the_winners_incident(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_server.create_database()
    with Ledger.open(url) as ledger, Ledger.open(url) as rival:
        rows, raced = Transaction.rows, []

        def rival_first(tx: Transaction, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
            if sql.startswith("INSERT INTO incidents") and not raced:
                raced.append(sql)
                _open(rival)  # commits its incident between our look and our insert
            return rows(tx, sql, params)

        monkeypatch.setattr(Transaction, "rows", rival_first)
        incident, new = _open(ledger, at=SEEN + timedelta(seconds=1))
        assert raced
        assert not new
        assert (incident.seen, incident.first_seen_at, incident.last_seen_at) == (
            2,
            SEEN,
            SEEN + timedelta(seconds=1),
        )
        assert ledger.incidents(STACK) == [incident]

"""Repair marks: every one kept with its note, from any number of processes, with a stable id."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bringup.admit.ledger import Ledger, LedgerError
from tests.unit.admit.ledgers import (
    ROOT,
    STACK,
    Backend,
    walk,
)

QUARANTINED = ["provisioned", "burn-in", "validating", "quarantined"]


def _repairs(ledger: Ledger, node: str) -> list[str]:
    return [reason for _, state, _, reason in ledger.history(STACK, node) if state == "repaired"]


def test_every_mark_is_kept_with_its_note(ledger: Ledger) -> None:
    walk(ledger, "node-1", QUARANTINED)
    first = ledger.mark_repaired(STACK, "node-1", "reseated GPU 3")
    since = ledger.node_state(STACK, "node-1").since  # type: ignore[union-attr]
    second = ledger.mark_repaired(STACK, "node-1", "replaced GPU 3 (serial 1651), RMA 42")
    assert _repairs(ledger, "node-1") == ["reseated GPU 3", "replaced GPU 3 (serial 1651), RMA 42"]
    assert first != second
    status = ledger.node_state(STACK, "node-1")
    assert status is not None
    # still repaired since the first mark, with the latest note
    assert (status.state, status.since, status.reason) == (
        "repaired",
        since,
        "replaced GPU 3 (serial 1651), RMA 42",
    )


def test_a_node_marked_twice_is_revalidated_after_its_burn_in(ledger: Ledger) -> None:
    walk(ledger, "node-1", QUARANTINED)
    ledger.mark_repaired(STACK, "node-1", "reseated GPU 3")
    ledger.mark_repaired(STACK, "node-1", "and its cable")
    walk(ledger, "node-1", ["burn-in", "revalidated", "admitted"])
    states = [state for _, state, _, _ in ledger.history(STACK, "node-1")]
    assert states[-5:] == ["repaired", "repaired", "burn-in", "revalidated", "admitted"]


def test_a_repaired_node_stays_revalidated_across_runs_cut_short(ledger: Ledger) -> None:
    # a run killed while revalidating it, then a run over other nodes that starts it again
    walk(ledger, "node-1", [*QUARANTINED, "repaired", "burn-in", "revalidated", "burn-in"])
    assert ledger.validating_state(STACK, "node-1") == "revalidated"
    with pytest.raises(LedgerError, match="repaired since its last verdict"):
        walk(ledger, "node-1", ["validating"])
    walk(ledger, "node-1", ["revalidated", "admitted", "burn-in"])
    assert ledger.validating_state(STACK, "node-1") == "validating"
    walk(ledger, "node-1", ["validating", "admitted"])


def test_a_pending_repair_is_the_latest_mark_until_a_verdict(ledger: Ledger) -> None:
    walk(ledger, "node-1", QUARANTINED)
    assert ledger.pending_repair(STACK, "node-1") is None
    assert ledger.pending_repair(STACK, "never-seen") is None
    ledger.mark_repaired(STACK, "node-1", "reset GPU 3")
    ledger.mark_repaired(STACK, "node-1", "and reseated it")
    latest = [at for at, state, _, _ in ledger.history(STACK, "node-1") if state == "repaired"]
    assert ledger.pending_repair(STACK, "node-1") == latest[-1]
    assert latest[-1].utcoffset() == timedelta(0)
    # mid-revalidation, and after a run cut short, it is still pending
    walk(ledger, "node-1", ["burn-in", "revalidated", "burn-in"])
    assert ledger.pending_repair(STACK, "node-1") == latest[-1]
    walk(ledger, "node-1", ["revalidated", "admitted"])
    assert ledger.pending_repair(STACK, "node-1") is None


def test_a_mark_still_needs_a_note_and_a_faulty_node(ledger: Ledger) -> None:
    walk(ledger, "node-1", [*QUARANTINED, "repaired"])
    with pytest.raises(LedgerError, match="needs a note"):
        ledger.mark_repaired(STACK, "node-1", " ")
    walk(ledger, "node-1", ["burn-in"])
    with pytest.raises(LedgerError, match="cannot move from burn-in to repaired"):
        ledger.mark_repaired(STACK, "node-1", "too late: it is being judged")
    assert _repairs(ledger, "node-1") == ["to repaired"]


def test_latest_repairs_changes_with_a_new_mark_only(ledger: Ledger) -> None:
    assert ledger.latest_repairs(STACK) == {}
    for node in ("node-1", "node-2", "node-3"):
        walk(ledger, node, QUARANTINED)
    ledger.record_state("other", "node-1", "provisioned")
    first = ledger.mark_repaired(STACK, "node-1", "reseated GPU 3")
    marked = ledger.mark_repaired(STACK, "node-2", "new cable on rail 2")
    assert ledger.latest_repairs(STACK) == {"node-1": first, "node-2": marked}
    assert ledger.latest_repairs("other") == {}
    # judged again, and admitted: the id stays
    walk(ledger, "node-1", ["burn-in", "revalidated", "admitted"])
    assert ledger.latest_repairs(STACK) == {"node-1": first, "node-2": marked}
    # back to quarantine, and a new mark: a new id
    walk(ledger, "node-1", ["validating", "quarantined"])
    assert ledger.latest_repairs(STACK)["node-1"] == first
    again = ledger.mark_repaired(STACK, "node-1", "replaced the board")
    assert again != first
    assert ledger.latest_repairs(STACK) == {"node-1": again, "node-2": marked}
    # a second mark of a node not judged since also changes it
    more = ledger.mark_repaired(STACK, "node-2", "and its transceiver")
    assert ledger.latest_repairs(STACK) == {"node-1": again, "node-2": more}


MARK = """
import sys, time
from pathlib import Path
from bringup.admit.ledger import Ledger

target, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
with Ledger.open(target) if "://" in target else Ledger.open(path=Path(target)) as ledger:
    while not go.exists():
        time.sleep(0.001)
    for i in range(count):
        ledger.mark_repaired("lab", "node-1", f"{name} {i}")
"""


def test_marks_from_two_processes_at_once_are_all_kept(backend: Backend, tmp_path: Path) -> None:
    with backend.open() as ledger:
        walk(ledger, "node-1", QUARANTINED)
    go, count = tmp_path / "go", 20
    markers = [
        subprocess.Popen(
            [sys.executable, "-c", MARK, backend.target, name, str(count), str(go)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alice", "bob")
    ]
    go.touch()
    for marker in markers:
        _, stderr = marker.communicate(timeout=120)
        assert marker.returncode == 0, stderr
    with backend.open() as ledger:
        notes = _repairs(ledger, "node-1")
        assert sorted(notes) == sorted(f"{n} {i}" for n in ("alice", "bob") for i in range(count))
        for name in ("alice", "bob"):  # each process's marks in its order
            assert [n for n in notes if n.startswith(name)] == [f"{name} {i}" for i in range(count)]
        status = ledger.node_state(STACK, "node-1")
        assert status is not None
        assert (status.state, status.reason) == ("repaired", notes[-1])


def test_every_node_s_history_in_one_read_is_each_node_s_own(ledger: Ledger) -> None:
    walk(ledger, "node-1", ["provisioned", "burn-in", "validating", "quarantined"])
    walk(ledger, "node-2", ["provisioned", "validating"])
    ledger.mark_repaired(STACK, "node-1", "reset GPU 3")
    ledger.record_state("other", "node-1", "provisioned")
    assert ledger.histories(STACK) == {
        "node-1": ledger.history(STACK, "node-1"),
        "node-2": ledger.history(STACK, "node-2"),
    }
    assert [state for _, state, _, _ in ledger.histories(STACK)["node-1"]][-1] == "repaired"

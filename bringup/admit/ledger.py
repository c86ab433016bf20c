"""The admission ledger: every run, node state change, verdict and finding, durably.

The ledger lives in SQLite by default (a file under `.state/`) or in PostgreSQL for a shared
deployment, chosen by what `Ledger.open` is given; `bringup.admit.database` holds the two
backends and the versioned schema, applied on open. This module holds the rules.

Every public write is one transaction. `record_verdict` writes the verdict, its findings and
the node's state change together, so a process killed at any moment leaves each verdict wholly
present or absent. A verdict is unique per (run, node), in code and by a UNIQUE constraint:
recording it again is a no-op, which is what lets an interrupted run resume by asking `judged`.

`nodes` holds each node's current state and latest verdict; `state_changes` is its history.
Moves between states follow the node lifecycle (`_NEXT`); recording the state a node is already
in changes nothing. Times are timezone-aware UTC.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from bringup.admit.database import (
    Database,
    LedgerError,
    Transaction,
    open_database,
    redact_url,
    timestamp,
)
from bringup.admit.findings import Finding

__all__ = [
    "STATES",
    "VERDICTS",
    "Ledger",
    "LedgerError",
    "NodeStatus",
    "Run",
    "Verdict",
    "redact_url",
]

STATES: tuple[str, ...] = (
    "provisioned",
    "burn-in",
    "validating",
    "admitted",
    "quarantined",
    "unreachable",
    "repaired",
    "revalidated",
)
VERDICTS = ("admitted", "quarantined", "unreachable")

# From burn-in, a node goes to `revalidated` if it was repaired before that burn-in and to
# `validating` otherwise (see Ledger._check_move).
_NEXT: dict[str | None, tuple[str, ...]] = {
    None: ("provisioned",),
    "provisioned": ("burn-in", "validating"),  # validating alone: a quick gate, no burn-in
    "burn-in": ("validating", "revalidated", *VERDICTS),
    # back to burn-in: a run abandoned mid-validation, started again by a different request
    "validating": (*VERDICTS, "burn-in"),
    "revalidated": (*VERDICTS, "burn-in"),
    "admitted": ("provisioned", "burn-in", "validating"),
    "quarantined": ("provisioned", "burn-in", "validating", "repaired"),
    "unreachable": ("provisioned", "burn-in", "validating", "repaired"),
    "repaired": ("burn-in", "revalidated"),
}


@dataclass(frozen=True)
class Run:
    """One admission run of a stack: which hosts, with which settings, and how it ended."""

    id: str
    stack: str
    hosts: tuple[str, ...]
    settings: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    status: str


@dataclass(frozen=True)
class Verdict:
    """What one run decided about one node, with the findings behind it."""

    run_id: str
    node: str
    verdict: str
    at: datetime
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class NodeStatus:
    """Where a node stands now, and the findings of its latest verdict (empty if none)."""

    stack: str
    node: str
    state: str
    since: datetime
    run_id: str | None
    reason: str
    findings: tuple[Finding, ...]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


_FINDING_COLUMNS = "f.component, f.check_name, f.observed, f.expected, f.evidence, f.attributes"
_STATUS_SQL = (
    f"SELECT n.node, n.state, n.since, n.run_id, n.reason, {_FINDING_COLUMNS} FROM nodes n "
    "LEFT JOIN findings f ON f.verdict_id = n.verdict_id WHERE n.stack = ? {where} "
    "ORDER BY n.node, f.position"
)
_RUN_COLUMNS = "id, stack, hosts, settings, started_at, finished_at, status"


def _findings(columns: Iterable[tuple[Any, ...]]) -> tuple[Finding, ...]:
    """Findings from LEFT JOINed finding columns, skipping the all-NULL row of none."""
    return tuple(
        Finding(component, check, observed, expected, evidence, json.loads(attributes))
        for component, check, observed, expected, evidence, attributes in columns
        if component is not None
    )


def _with_findings(
    rows: list[tuple[Any, ...]], width: int
) -> Iterator[tuple[tuple[Any, ...], tuple[Finding, ...]]]:
    """Rows of `width` head columns then a LEFT JOINed finding, folded into one per head."""
    for head, group in itertools.groupby(rows, key=lambda row: row[:width]):
        yield head, _findings(row[width:] for row in group)


def _finding_row(verdict_id: int, position: int, f: Finding) -> tuple[Any, ...]:
    attrs = json.dumps(dict(f.attributes), sort_keys=True)
    return (verdict_id, position, f.component, f.check, f.observed, f.expected, f.evidence, attrs)


def _run(row: tuple[Any, ...]) -> Run:
    run_id, stack, hosts, settings, started_at, finished_at, status = row
    finished = _time(finished_at) if finished_at else None
    hosts_, settings_ = tuple(json.loads(hosts)), json.loads(settings)
    return Run(run_id, stack, hosts_, settings_, _time(started_at), finished, status)


class Ledger:
    """The durable record of admission: runs, node states, verdicts and their findings.

    >>> with Ledger.open(path=Path(".state/ledger.db")) as ledger:  # doctest: +SKIP
    ...     run = ledger.start_run("lab", ["node-1"], {"burn_in": True})
    ...     ledger.record_state("lab", "node-1", "provisioned", run_id=run.id)
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    def open(cls, url: str | None = None, *, path: Path | None = None) -> Ledger:
        """Open the ledger at a PostgreSQL URL or a SQLite path, creating and migrating it."""
        return cls(open_database(url, path))

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_run(self, stack: str, hosts: Sequence[str], settings: Mapping[str, Any]) -> Run:
        """Record the start of an admission run of `hosts`."""
        started = datetime.now(UTC)
        run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        encoded = json.dumps(dict(settings), sort_keys=True)
        row = (run_id, stack, json.dumps(list(hosts)), encoded, timestamp(started), None, "running")
        with self._db.transaction(write=True) as tx:
            tx.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        return Run(run_id, stack, tuple(hosts), json.loads(encoded), started, None, "running")

    def unfinished_run(self, stack: str) -> Run | None:
        """The latest run of `stack` still marked running: the one to resume, if any."""
        with self._db.transaction(write=False) as tx:
            row = tx.row(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE stack = ? AND status = 'running' "
                "ORDER BY started_at DESC, id DESC LIMIT 1",
                (stack,),
            )
        return _run(row) if row else None

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        """Mark a run finished or failed; marking it again with the same status is a no-op."""
        if status not in ("finished", "failed"):
            raise LedgerError(f"run {run_id}: status {status!r}, expected finished or failed")
        with self._db.transaction(write=True) as tx:
            current = self._run_status(tx, run_id)[1]
            if current == status:
                return
            if current != "running":
                raise LedgerError(f"run {run_id}: already {current}, cannot mark it {status}")
            sql = "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?"
            tx.execute(sql, (status, timestamp(), run_id))

    def record_state(
        self, stack: str, node: str, state: str, *, run_id: str | None = None, reason: str = ""
    ) -> None:
        """Move a node to `state`, as the lifecycle allows; raise LedgerError otherwise."""
        with self._db.transaction(write=True) as tx:
            self._move(tx, stack, node, state, run_id, reason, verdict_id=None)

    def record_verdict(
        self,
        run_id: str,
        stack: str,
        node: str,
        verdict: str,
        findings: Sequence[Finding],
        reason: str = "",
    ) -> bool:
        """Record a run's verdict on a node, its findings and the node's new state, at once.

        Returns False, changing nothing, when the run already has a verdict for the node.
        """
        if verdict not in VERDICTS:
            raise LedgerError(f"{stack}/{node}: verdict {verdict!r}, expected one of {VERDICTS}")
        try:
            with self._db.transaction(write=True) as tx:
                if self._has_verdict(tx, run_id, node):
                    return False
                run_stack, status = self._run_status(tx, run_id)
                if run_stack != stack:
                    raise LedgerError(f"run {run_id} is of stack {run_stack}, not {stack}")
                if status != "running":
                    raise LedgerError(f"run {run_id} is {status}: it takes no more verdicts")
                verdict_id = tx.value(
                    "INSERT INTO verdicts (run_id, stack, node, verdict, judged_at, reason) "
                    "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    (run_id, stack, node, verdict, timestamp(), reason),
                )
                rows = [_finding_row(verdict_id, i, f) for i, f in enumerate(findings)]
                if rows:
                    tx.executemany(
                        "INSERT INTO findings (verdict_id, position, component, check_name, "
                        "observed, expected, evidence, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                self._move(tx, stack, node, verdict, run_id, reason, verdict_id)
        except self._db.integrity_errors:
            with self._db.transaction(write=False) as tx:
                if self._has_verdict(tx, run_id, node):
                    return False
            raise
        return True

    def verdicts(self, run_id: str) -> dict[str, Verdict]:
        """Every verdict of a run, by node."""
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(
                f"SELECT v.node, v.verdict, v.judged_at, {_FINDING_COLUMNS} FROM verdicts v "
                "LEFT JOIN findings f ON f.verdict_id = v.id WHERE v.run_id = ? "
                "ORDER BY v.node, f.position",
                (run_id,),
            )
        return {
            node: Verdict(run_id, node, verdict, _time(at), found)
            for (node, verdict, at), found in _with_findings(rows, 3)
        }

    def judged(self, run_id: str) -> set[str]:
        """The nodes a run has already given a verdict on."""
        with self._db.transaction(write=False) as tx:
            rows = tx.rows("SELECT node FROM verdicts WHERE run_id = ?", (run_id,))
        return {node for (node,) in rows}

    def node_state(self, stack: str, node: str) -> NodeStatus | None:
        """Where one node stands, or None if the ledger has never seen it."""
        found = self._statuses(stack, "AND n.node = ?", node)
        return found[0] if found else None

    def status(self, stack: str) -> list[NodeStatus]:
        """Where every node of a stack stands, sorted by node."""
        return self._statuses(stack, "")

    def history(self, stack: str, node: str) -> list[tuple[datetime, str, str | None, str]]:
        """A node's state changes as (at, state, run_id, reason), oldest first."""
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(
                "SELECT changed_at, state, run_id, reason FROM state_changes "
                "WHERE stack = ? AND node = ? ORDER BY id",
                (stack, node),
            )
        return [(_time(at), state, run_id, reason) for at, state, run_id, reason in rows]

    def mark_repaired(self, stack: str, node: str, note: str) -> None:
        """Record that an operator repaired a quarantined or unreachable node, and how."""
        if not note.strip():
            raise LedgerError(f"{stack}/{node}: a repair needs a note saying what was done")
        self.record_state(stack, node, "repaired", reason=note)

    def _statuses(self, stack: str, where: str, *params: str) -> list[NodeStatus]:
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(_STATUS_SQL.format(where=where), (stack, *params))
        statuses = [
            NodeStatus(stack, node, state, _time(since), run_id, reason, found)
            for (node, state, since, run_id, reason), found in _with_findings(rows, 5)
        ]
        return sorted(statuses, key=lambda s: s.node)

    def _has_verdict(self, tx: Transaction, run_id: str, node: str) -> bool:
        sql = "SELECT 1 FROM verdicts WHERE run_id = ? AND node = ?"
        return tx.row(sql, (run_id, node)) is not None

    def _run_status(self, tx: Transaction, run_id: str) -> tuple[str, str]:
        row = tx.row(f"SELECT stack, status FROM runs WHERE id = ?{self._db.for_update}", (run_id,))
        if row is None:
            raise LedgerError(f"run {run_id}: no such run in ledger {self._db.location}")
        return row[0], row[1]

    def _move(
        self,
        tx: Transaction,
        stack: str,
        node: str,
        state: str,
        run_id: str | None,
        reason: str,
        verdict_id: int | None,
    ) -> None:
        """Change a node's state (and latest verdict) inside `tx`, if the lifecycle allows."""
        if state not in STATES:
            raise LedgerError(f"{stack}/{node}: unknown state {state!r}, expected one of {STATES}")
        if run_id is not None:
            self._run_status(tx, run_id)
        sql = f"SELECT state FROM nodes WHERE stack = ? AND node = ?{self._db.for_update}"
        current = (tx.row(sql, (stack, node)) or (None,))[0]
        if current == state:
            if verdict_id is not None:
                sql = "UPDATE nodes SET verdict_id = ? WHERE stack = ? AND node = ?"
                tx.execute(sql, (verdict_id, stack, node))
            return
        self._check_move(tx, stack, node, current, state)
        change = (stack, node, state, timestamp(), run_id, reason)
        tx.execute(
            "INSERT INTO state_changes (stack, node, state, changed_at, run_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            change,
        )
        tx.execute(
            "INSERT INTO nodes (stack, node, state, since, run_id, reason, verdict_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stack, node) DO UPDATE SET "
            "state = excluded.state, since = excluded.since, run_id = excluded.run_id, "
            "reason = excluded.reason, "
            "verdict_id = COALESCE(excluded.verdict_id, nodes.verdict_id)",
            (*change, verdict_id),
        )

    def _check_move(
        self, tx: Transaction, stack: str, node: str, current: str | None, state: str
    ) -> None:
        allowed, hint = _NEXT[current], ""
        if current == "burn-in":
            sql = "SELECT state FROM state_changes WHERE stack = ? AND node = ? ORDER BY id DESC"
            before = tx.rows(f"{sql} LIMIT 2", (stack, node))
            repaired = len(before) == 2 and before[1][0] == "repaired"
            allowed = ("revalidated" if repaired else "validating", *VERDICTS)
            hint = " (it was repaired before this burn-in)" if repaired else ""
        if state not in allowed:
            raise LedgerError(
                f"{stack}/{node}: cannot move from {current or 'no state'} to {state}{hint}; "
                f"from {current or 'no state'} it may move to {', '.join(allowed)}"
            )

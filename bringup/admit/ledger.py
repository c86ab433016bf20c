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
in changes nothing, except a repair: every `mark_repaired` is a row of the history with its note.
Times are timezone-aware UTC.

A run records its `Owner`, the process that judges it, so that runs of one stack over other
nodes proceed side by side and a run whose process died can be told from one still going
(`unfinished_runs`, `claim_run`, `abandon_run`).

An `Incident` is an admitted node failing its health checks in service: what failed (its
findings, the first one its headline), when the node first saw it, what the scheduler did, the
jobs it was running, where its evidence is, and, when the circuit breaker kept the node in the
scheduler, why. A node has at most one incident that is not closed, in code and by a unique
index: another failing verdict while one is open or held is folded into it (`open_incident`
counts it and moves its last sighting), so a node failing every minute is one incident, not
hundreds. Opening an incident leaves the node's state alone; `quarantine_in_service` is the
lifecycle's one move out of `admitted` that no run makes, and `close_incidents` ends a node's
incidents once it is repaired. `drained_since` is what the breaker counts.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from pydantic import JsonValue

from bringup.admit.database import (
    Database,
    LedgerConflict,
    LedgerError,
    Transaction,
    open_database,
    redact_url,
    timestamp,
)
from bringup.validation.report import Finding

__all__ = [
    "INCIDENT_STATUSES",
    "STATES",
    "UNCLOSED",
    "VERDICTS",
    "Incident",
    "Ledger",
    "LedgerError",
    "NodeStatus",
    "Owner",
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
INCIDENT_STATUSES = ("open", "held", "closed")
UNCLOSED = ("open", "held")
"""An incident's statuses before it is closed: open (drained, or being) and held (kept in the
scheduler by the circuit breaker)."""

# From burn-in, a node goes to `revalidated` if it was repaired before that burn-in and to
# `validating` otherwise (see Ledger._check_move).
_NEXT: dict[str | None, tuple[str, ...]] = {
    None: ("provisioned",),
    "provisioned": ("burn-in", "validating"),  # validating alone: a quick gate, no burn-in
    "burn-in": ("validating", "revalidated", *VERDICTS),
    # back to burn-in: a run abandoned mid-validation, started again by a different request
    "validating": (*VERDICTS, "burn-in"),
    "revalidated": (*VERDICTS, "burn-in"),
    # quarantined without a run: in service, by an incident (Ledger.quarantine_in_service)
    "admitted": ("provisioned", "burn-in", "validating", "quarantined"),
    "quarantined": ("provisioned", "burn-in", "validating", "repaired"),
    "unreachable": ("provisioned", "burn-in", "validating", "repaired"),
    "repaired": ("burn-in", "revalidated"),
}


@dataclass(frozen=True)
class Owner:
    """The process that judges a run: its host, its pid, and when that process started.

    The start tells the owner from a later process that got the same pid.

    >>> Owner.current().pid == os.getpid()
    True
    """

    host: str
    pid: int
    started: str
    """`<boot id>/<pid namespace>/<start in clock ticks since boot>` on Linux, else empty."""

    @classmethod
    def current(cls) -> Owner:
        """This process."""
        machine, ticks = _machine(), _process_start(os.getpid())
        started = f"{machine}/{ticks}" if machine and ticks else ""
        return cls(socket.gethostname(), os.getpid(), started)

    def is_gone(self) -> bool:
        """Whether the process has ended, as far as this machine can tell.

        False while it runs, and for a process this machine cannot look at: on another host,
        or in another pid namespace (another container) of this one.
        """
        if self.host != socket.gethostname():
            return False
        parts, machine = self.started.split("/"), _machine()
        if len(parts) != 3 or machine is None:  # no /proc here or there: the pid alone
            return not _pid_exists(self.pid)
        boot, namespace, ticks = parts
        here_boot, here_namespace = machine.split("/")
        if boot != here_boot:
            return True  # this host has restarted since
        if namespace != here_namespace:
            return False
        return _process_start(self.pid) != ticks

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _machine() -> str | None:
    """`<boot id>/<pid namespace>` of this process, or None without /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


def _process_start(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot; None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name before ")" may hold spaces
    return None if fields[0] in ("Z", "X") else fields[19]


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    owner: Owner | None = None
    """The process that judges it; None for a run recorded before runs had owners."""


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


@dataclass(frozen=True)
class Incident:
    """A node in service failing its health checks: what failed, when, and what was done.

    `first_seen_at` and `last_seen_at` are the node's own clock (when it observed the failure);
    `opened_at`, `drained_at` and `closed_at` are the clock of the process that wrote them.

    >>> incident.summary()["drain_after_s"]  # doctest: +SKIP
    41.5
    """

    id: int
    stack: str
    node: str
    component: str
    """The first finding's component, check, observed and expected value: the headline."""
    check: str
    observed: str
    expected: str
    findings: tuple[Finding, ...]
    action: str
    """The strongest recommended action of the failing verdict (reboot, reset-gpu…)."""
    trigger: str
    """What ran the check: interval, epilog or cli."""
    first_seen_at: datetime
    opened_at: datetime
    last_seen_at: datetime
    seen: int
    """How many failing verdicts it holds: 1 when opened, one more per verdict folded in."""
    status: str
    scheduler: str
    """What the scheduler did: drained, kept drained by operator: <reason>, held by circuit
    breaker, not in the scheduler, not told: <error>."""
    drained_at: datetime | None
    jobs: tuple[dict[str, str], ...]
    """The jobs running on the node when it failed: id, name, state and user of each."""
    bundle: str
    """The folder of its evidence."""
    breaker: str
    """Why the circuit breaker kept the node in the scheduler; empty when it did not."""
    domain: str
    """The NVLink domain escalated to as the part at fault; empty when none."""
    closed_at: datetime | None
    resolution: str

    @property
    def drain_after_s(self) -> float | None:
        """Seconds from the node's first failing observation to its drain; None if undrained."""
        if self.drained_at is None:
            return None
        return (self.drained_at - self.first_seen_at).total_seconds()

    def summary(self) -> dict[str, JsonValue]:
        """The incident as plain data: one incident of `bringup incidents --format json`."""

        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "id": self.id,
            "stack": self.stack,
            "node": self.node,
            "component": self.component,
            "check": self.check,
            "observed": self.observed,
            "expected": self.expected,
            "findings": [f.to_json() for f in self.findings],
            "action": self.action,
            "trigger": self.trigger,
            "first_seen_at": when(self.first_seen_at),
            "opened_at": when(self.opened_at),
            "last_seen_at": when(self.last_seen_at),
            "seen": self.seen,
            "status": self.status,
            "scheduler": self.scheduler,
            "drained_at": when(self.drained_at),
            "drain_after_s": self.drain_after_s,
            "jobs": [dict(job) for job in self.jobs],
            "bundle": self.bundle,
            "breaker": self.breaker,
            "domain": self.domain,
            "closed_at": when(self.closed_at),
            "resolution": self.resolution,
        }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


_FINDING_COLUMNS = "f.component, f.check_name, f.observed, f.expected, f.evidence, f.attributes"
_STATUS_SQL = (
    f"SELECT n.node, n.state, n.since, n.run_id, n.reason, {_FINDING_COLUMNS} FROM nodes n "
    "LEFT JOIN findings f ON f.verdict_id = n.verdict_id WHERE n.stack = ? {where} "
    "ORDER BY n.node, f.position"
)
_RUN_COLUMNS = (
    "id, stack, hosts, settings, started_at, finished_at, status, "
    "owner_host, owner_pid, owner_start"
)
_OWNED_BY = (
    "COALESCE(owner_host, '') = ? AND COALESCE(owner_pid, -1) = ? AND COALESCE(owner_start, '') = ?"
)


_INCIDENT_COLUMNS = (
    "id, stack, node, component, check_name, observed, expected, findings, action, trigger, "
    "first_seen_at, opened_at, last_seen_at, seen, status, scheduler, drained_at, jobs, bundle, "
    "breaker, domain, closed_at, resolution"
)
_UNCLOSED_SQL = f"status IN ({', '.join(repr(s) for s in UNCLOSED)})"
_NEW_INCIDENT = (
    "stack", "node", "component", "check_name", "observed", "expected", "findings", "action",
    "trigger", "first_seen_at", "jobs", "bundle",
)  # fmt: skip
"""The columns `open_incident` gives a new incident; the others start empty, or from these."""


def _incident(row: tuple[Any, ...]) -> Incident:
    (id_, stack, node, component, check, observed, expected, findings, action, trigger,
     first_seen, opened, last_seen, seen, status, scheduler, drained, jobs, bundle, breaker,
     domain, closed, resolution) = row  # fmt: skip
    return Incident(
        int(id_),
        stack,
        node,
        component,
        check,
        observed,
        expected,
        tuple(Finding.from_json(f) for f in json.loads(findings)),
        action,
        trigger,
        _time(first_seen),
        _time(opened),
        _time(last_seen),
        int(seen),
        status,
        scheduler,
        _time(drained) if drained else None,
        tuple(json.loads(jobs)),
        bundle,
        breaker,
        domain,
        _time(closed) if closed else None,
        resolution,
    )


def _jobs_json(jobs: Iterable[Mapping[str, object]]) -> str:
    """Jobs as the ledger keeps them: a JSON list of objects of text (a job id too)."""
    return json.dumps([{str(k): str(v) for k, v in job.items()} for job in jobs], sort_keys=True)


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
    run_id, stack, hosts, settings, started_at, finished_at, status, *owner = row
    finished = _time(finished_at) if finished_at else None
    hosts_, settings_ = tuple(json.loads(hosts)), json.loads(settings)
    owner_ = Owner(owner[0], int(owner[1]), owner[2]) if owner[0] is not None else None
    return Run(run_id, stack, hosts_, settings_, _time(started_at), finished, status, owner_)


def _owned_by(owner: Owner | None) -> tuple[str, int, str]:
    """The parameters of `_OWNED_BY`: an owner, or the absence of one."""
    return (owner.host, owner.pid, owner.started) if owner else ("", -1, "")


def _mark(change_id: int, changed_at: str) -> str:
    """A repair mark's id: its time, then its row, which alone is unique."""
    return f"{changed_at} #{change_id}"


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

    def start_run(
        self,
        stack: str,
        hosts: Sequence[str],
        settings: Mapping[str, Any],
        *,
        owner: Owner | None = None,
        exclusive: bool = False,
    ) -> Run:
        """Record the start of an admission run of `hosts`, judged by `owner` (default: this
        process).

        `exclusive` refuses, with a LedgerError, to start while an unfinished run of the stack
        shares a host with this one, checked in the same transaction as the start.
        """
        owner = owner or Owner.current()
        started = datetime.now(UTC)
        run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        encoded = json.dumps(dict(settings), sort_keys=True)
        run = Run(run_id, stack, tuple(hosts), json.loads(encoded), started, None, "running", owner)
        row = (run_id, stack, json.dumps(list(hosts)), encoded, timestamp(started), None, "running")
        with self._db.transaction(write=True) as tx:
            if exclusive:
                self._refuse_beside(tx, run)
            tx.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, *_owned_by(owner)),
            )
        return run

    def unfinished_run(self, stack: str) -> Run | None:
        """The latest run of `stack` still marked running, if any."""
        runs = self.unfinished_runs(stack)
        return runs[-1] if runs else None

    def unfinished_runs(self, stack: str) -> list[Run]:
        """Every run of `stack` still marked running, with its hosts and owner, oldest first."""
        with self._db.transaction(write=False) as tx:
            return self._unfinished(tx, stack)

    def runs(self, stack: str) -> list[Run]:
        """Every run of `stack`, running, finished and failed, oldest first."""
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE stack = ? ORDER BY started_at, id",
                (stack,),
            )
        return [_run(row) for row in rows]

    def claim_run(
        self, run_id: str, previous: Owner | None, owner: Owner | None = None
    ) -> Run | None:
        """Hand an unfinished run over from `previous`, its owner, to `owner` (default: this
        process), to resume it.

        Returns the run as now recorded, or None, changing nothing, when it is no longer
        unfinished under `previous`: another process took it over or closed it first. Refuses,
        with a LedgerError, while another unfinished run of the stack shares a host with it.
        """
        owner = owner or Owner.current()
        with self._db.transaction(write=True) as tx:
            row = tx.row(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
            if row is None:
                raise LedgerError(f"run {run_id}: no such run in ledger {self._db.location}")
            self._refuse_beside(tx, _run(row))
            row = tx.row(
                "UPDATE runs SET owner_host = ?, owner_pid = ?, owner_start = ? "
                f"WHERE id = ? AND status = 'running' AND {_OWNED_BY} RETURNING {_RUN_COLUMNS}",
                (*_owned_by(owner), run_id, *_owned_by(previous)),
            )
        return _run(row) if row else None

    def abandon_run(self, run_id: str, owner: Owner | None) -> bool:
        """Mark failed an unfinished run whose owner, `owner`, is gone.

        Returns False, changing nothing, when the run is no longer unfinished under `owner`:
        another process took it over or closed it first.
        """
        with self._db.transaction(write=True) as tx:
            row = tx.row(
                "UPDATE runs SET status = 'failed', finished_at = ? "
                f"WHERE id = ? AND status = 'running' AND {_OWNED_BY} RETURNING id",
                (timestamp(), run_id, *_owned_by(owner)),
            )
        return row is not None

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
        An admitted node's unclosed incidents are closed with it: it has proven itself again.

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
                if verdict == "admitted":  # proven again: its incidents in service are over
                    tx.execute(
                        "UPDATE incidents SET status = 'closed', closed_at = ?, resolution = ? "
                        f"WHERE stack = ? AND node = ? AND {_UNCLOSED_SQL}",
                        (timestamp(), f"admitted again by run {run_id}", stack, node),
                    )
        except LedgerConflict:  # another process recorded it between our check and insert
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

    def histories(self, stack: str) -> dict[str, list[tuple[datetime, str, str | None, str]]]:
        """Every node's state changes, as `history` gives one node's, in one read: the report
        of a 25,000-node stack reads them all."""
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(
                "SELECT node, changed_at, state, run_id, reason FROM state_changes "
                "WHERE stack = ? ORDER BY node, id",
                (stack,),
            )
        found: dict[str, list[tuple[datetime, str, str | None, str]]] = {}
        for node, at, state, run_id, reason in rows:
            found.setdefault(node, []).append((_time(at), state, run_id, reason))
        return found

    def validating_state(self, stack: str, node: str) -> str:
        """The state a node's validation starts in: `revalidated` when it was repaired since its
        last verdict (however many runs were cut short in between), `validating` otherwise."""
        return "revalidated" if self.pending_repair(stack, node) is not None else "validating"

    def pending_repair(self, stack: str, node: str) -> datetime | None:
        """When the node's latest repair mark was made, if it was repaired since its last
        verdict (its next validation revalidates it); None otherwise."""
        with self._db.transaction(write=False) as tx:
            return _pending_repair(tx, stack, node)

    def mark_repaired(self, stack: str, node: str, note: str) -> str:
        """Record that an operator repaired a quarantined or unreachable node, and how; return
        the mark's id (as `latest_repairs` gives it).

        Every mark is a row of the node's history with its note: marking a node already
        repaired, not judged since, adds one, so marks made at the same time are all kept.
        """
        if not note.strip():
            raise LedgerError(f"{stack}/{node}: a repair needs a note saying what was done")
        with self._db.transaction(write=True) as tx:
            mark = self._move(tx, stack, node, "repaired", None, note, None)
            if mark is None:  # repaired already, not judged since: one more mark
                mark = self._insert_change(tx, stack, node, "repaired", None, note)
                sql = "UPDATE nodes SET reason = ? WHERE stack = ? AND node = ?"
                tx.execute(sql, (note, stack, node))
        return _mark(*mark)

    def latest_repairs(self, stack: str) -> dict[str, str]:
        """The id of each node's latest repair mark, by node, for the nodes ever marked.

        An id changes with a new mark and only then, not when the node is judged afterwards.
        """
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(
                "SELECT node, id, changed_at FROM state_changes WHERE id IN ("
                "SELECT MAX(id) FROM state_changes WHERE stack = ? AND state = 'repaired' "
                "GROUP BY node)",
                (stack,),
            )
        return {node: _mark(change_id, at) for node, change_id, at in sorted(rows)}

    def open_incident(
        self,
        stack: str,
        node: str,
        *,
        findings: Sequence[Finding],
        first_seen: datetime,
        trigger: str,
        action: str,
        jobs: Sequence[Mapping[str, object]] = (),
        bundle: str = "",
    ) -> tuple[Incident, bool]:
        """Record a failing verdict of a node in service, observed by the node at `first_seen`.

        When the node already has an open or held incident, the verdict is folded into it (one
        more sighting, its last sighting moved to `first_seen` if later) and that incident is
        returned with False; otherwise a new open incident, headed by the first finding, is
        returned with True. The node's state is left as it is (see `quarantine_in_service`).
        """
        if not findings:
            raise LedgerError(f"{stack}/{node}: an incident needs at least one finding")
        row = (  # the columns of _NEW_INCIDENT
            stack,
            node,
            findings[0].component,
            findings[0].check,
            findings[0].observed,
            findings[0].expected,
            json.dumps([f.to_json() for f in findings], sort_keys=True),
            action,
            trigger,
            timestamp(first_seen),
            _jobs_json(jobs),
            bundle,
        )
        try:
            return self._open_or_fold(stack, node, row)
        except LedgerConflict:  # another writer opened one between our look and our insert
            return self._open_or_fold(stack, node, row)

    def quarantine_in_service(self, stack: str, node: str, incident_id: int, reason: str) -> bool:
        """Move an admitted node to quarantined for incident `incident_id`; whether it moved.

        A node in any other state (quarantined already, being judged, never admitted) is left
        as it is. `reason` is the state change's, as the scheduler was told it (naming the part
        and the incident); LedgerError when the incident is not the node's.
        """
        with self._db.transaction(write=True) as tx:
            incident = self._incident(tx, incident_id)
            if (incident.stack, incident.node) != (stack, node):
                raise LedgerError(
                    f"incident {incident_id} is of {incident.stack}/{incident.node}, "
                    f"not {stack}/{node}"
                )
            if self._state(tx, stack, node) != "admitted":
                return False
            self._move(tx, stack, node, "quarantined", None, reason, None)
        return True

    def update_incident(
        self,
        incident_id: int,
        *,
        status: str | None = None,
        scheduler: str | None = None,
        drained_at: datetime | None = None,
        breaker: str | None = None,
        domain: str | None = None,
        jobs: Sequence[Mapping[str, object]] | None = None,
        bundle: str | None = None,
    ) -> Incident:
        """Record what was done about an incident; the fields not given stay. Returns it as now
        recorded.

        `status` moves it between open and held; a closed incident keeps its status
        (closing is `close_incidents`, with a resolution).
        """
        if status is not None and status not in UNCLOSED:
            raise LedgerError(
                f"incident {incident_id}: status {status!r}, expected one of {UNCLOSED} "
                "(close_incidents closes them)"
            )
        given: dict[str, str | None] = {
            "status": status,
            "scheduler": scheduler,
            "drained_at": timestamp(drained_at) if drained_at is not None else None,
            "breaker": breaker,
            "domain": domain,
            "jobs": _jobs_json(jobs) if jobs is not None else None,
            "bundle": bundle,
        }
        changes = {column: value for column, value in given.items() if value is not None}
        with self._db.transaction(write=True) as tx:
            incident = self._incident(tx, incident_id)
            if status is not None and incident.status == "closed":
                raise LedgerError(f"incident {incident_id} is closed: it cannot be {status}")
            if not changes:
                return incident
            (row,) = tx.rows(
                f"UPDATE incidents SET {', '.join(f'{c} = ?' for c in changes)} WHERE id = ? "
                f"RETURNING {_INCIDENT_COLUMNS}",
                (*changes.values(), incident_id),
            )
        return _incident(row)

    def incidents(
        self, stack: str, *, node: str | None = None, status: str | tuple[str, ...] | None = None
    ) -> list[Incident]:
        """The incidents of a stack, newest first; of one node, of one status or several."""
        statuses = (status,) if isinstance(status, str) else status
        unknown = sorted(set(statuses or ()) - set(INCIDENT_STATUSES))
        if unknown:
            raise LedgerError(
                f"incident status {', '.join(map(repr, unknown))}: expected one of "
                f"{INCIDENT_STATUSES}"
            )
        where, params = ["stack = ?"], [stack]
        if node is not None:
            where.append("node = ?")
            params.append(node)
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {' AND '.join(where)} "
                "ORDER BY id DESC",
                params,
            )
        return [_incident(row) for row in rows]

    def drained_since(self, stack: str, since: datetime) -> list[Incident]:
        """The incidents of a stack whose node was drained at `since` or later, whatever their
        status now; the latest drain first."""
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE stack = ? AND drained_at >= ? "
                "ORDER BY drained_at DESC, id DESC",
                (stack, timestamp(since)),
            )
        return [_incident(row) for row in rows]

    def close_incidents(self, stack: str, node: str, resolution: str) -> list[int]:
        """Close a node's open and held incidents, saying how they were resolved; their ids."""
        if not resolution.strip():
            raise LedgerError(f"{stack}/{node}: closing incidents needs a resolution")
        with self._db.transaction(write=True) as tx:
            rows = tx.rows(
                "UPDATE incidents SET status = 'closed', closed_at = ?, resolution = ? "
                f"WHERE stack = ? AND node = ? AND {_UNCLOSED_SQL} RETURNING id",
                (timestamp(), resolution, stack, node),
            )
        return sorted(int(id_) for (id_,) in rows)

    def _statuses(self, stack: str, where: str, *params: str) -> list[NodeStatus]:
        with self._db.transaction(write=False) as tx:
            rows = tx.rows(_STATUS_SQL.format(where=where), (stack, *params))
        statuses = [
            NodeStatus(stack, node, state, _time(since), run_id, reason, found)
            for (node, state, since, run_id, reason), found in _with_findings(rows, 5)
        ]
        return sorted(statuses, key=lambda s: s.node)

    def _open_or_fold(self, stack: str, node: str, row: tuple[str, ...]) -> tuple[Incident, bool]:
        """`open_incident` in one transaction: fold into the node's unclosed incident, or insert
        `row` (the values of `_NEW_INCIDENT`) as a new one."""
        seen_at = row[_NEW_INCIDENT.index("first_seen_at")]
        with self._db.transaction(write=True) as tx:
            found = tx.row(
                "SELECT id, last_seen_at FROM incidents WHERE stack = ? AND node = ? "
                f"AND {_UNCLOSED_SQL}{self._db.for_update}",
                (stack, node),
            )
            if found is not None:
                incident_id, last_seen = found
                # fixed-width UTC text sorts as the times do: a late verdict moves nothing back
                (folded,) = tx.rows(
                    "UPDATE incidents SET seen = seen + 1, last_seen_at = ? WHERE id = ? "
                    f"RETURNING {_INCIDENT_COLUMNS}",
                    (max(last_seen, seen_at), incident_id),
                )
                return _incident(folded), False
            (opened,) = tx.rows(
                f"INSERT INTO incidents ({', '.join(_NEW_INCIDENT)}, opened_at, last_seen_at, "
                "seen, status, scheduler, breaker, domain, resolution) VALUES "
                f"({', '.join('?' for _ in _NEW_INCIDENT)}, ?, ?, 1, 'open', '', '', '', '') "
                f"RETURNING {_INCIDENT_COLUMNS}",
                (*row, timestamp(), seen_at),
            )
        return _incident(opened), True

    def _incident(self, tx: Transaction, incident_id: int) -> Incident:
        """An incident, its row locked until `tx` ends; LedgerError when there is none."""
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?{self._db.for_update}"
        row = tx.row(sql, (incident_id,))
        if row is None:
            raise LedgerError(f"incident {incident_id}: no such incident in {self._db.location}")
        return _incident(row)

    def _refuse_beside(self, tx: Transaction, run: Run) -> None:
        """Raise LedgerError if another unfinished run of `run`'s stack shares a host with it;
        no other process can start or take over a run of the stack until `tx` ends."""
        self._db.lock_runs(tx, run.stack)
        for other in self._unfinished(tx, run.stack):
            shared = sorted(set(other.hosts) & set(run.hosts))
            if other.id != run.id and shared:
                raise LedgerError(
                    f"{run.stack}: run {other.id} ({other.owner or 'no recorded owner'}) is "
                    f"unfinished and judges {', '.join(shared)} too: no other run of those "
                    "nodes may go on beside it"
                )

    def _unfinished(self, tx: Transaction, stack: str) -> list[Run]:
        rows = tx.rows(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE stack = ? AND status = 'running' "
            "ORDER BY started_at, id",
            (stack,),
        )
        return [_run(row) for row in rows]

    def _state(self, tx: Transaction, stack: str, node: str) -> str | None:
        """A node's state, its row locked until `tx` ends; None if the ledger never saw it."""
        sql = f"SELECT state FROM nodes WHERE stack = ? AND node = ?{self._db.for_update}"
        row = tx.row(sql, (stack, node))
        return str(row[0]) if row else None

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
    ) -> tuple[int, str] | None:
        """Change a node's state (and latest verdict) inside `tx`, if the lifecycle allows.

        Returns the id and time of the state change; None when the node is in `state` already.
        """
        if state not in STATES:
            raise LedgerError(f"{stack}/{node}: unknown state {state!r}, expected one of {STATES}")
        if run_id is not None:
            self._run_status(tx, run_id)
        current = self._state(tx, stack, node)
        if current == state:
            if verdict_id is not None:
                sql = "UPDATE nodes SET verdict_id = ? WHERE stack = ? AND node = ?"
                tx.execute(sql, (verdict_id, stack, node))
            return None
        self._check_move(tx, stack, node, current, state)
        change_id, at = self._insert_change(tx, stack, node, state, run_id, reason)
        tx.execute(
            "INSERT INTO nodes (stack, node, state, since, run_id, reason, verdict_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stack, node) DO UPDATE SET "
            "state = excluded.state, since = excluded.since, run_id = excluded.run_id, "
            "reason = excluded.reason, "
            "verdict_id = COALESCE(excluded.verdict_id, nodes.verdict_id)",
            (stack, node, state, at, run_id, reason, verdict_id),
        )
        return change_id, at

    def _insert_change(
        self, tx: Transaction, stack: str, node: str, state: str, run_id: str | None, reason: str
    ) -> tuple[int, str]:
        """Add a row to a node's history; its id and time."""
        at = timestamp()
        change_id = tx.value(
            "INSERT INTO state_changes (stack, node, state, changed_at, run_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (stack, node, state, at, run_id, reason),
        )
        return int(change_id), at

    def _check_move(
        self, tx: Transaction, stack: str, node: str, current: str | None, state: str
    ) -> None:
        allowed, hint = _NEXT[current], ""
        if current == "burn-in":
            repaired = _pending_repair(tx, stack, node) is not None
            allowed = ("revalidated" if repaired else "validating", *VERDICTS)
            hint = " (it was repaired since its last verdict)" if repaired else ""
        if state not in allowed:
            raise LedgerError(
                f"{stack}/{node}: cannot move from {current or 'no state'} to {state}{hint}; "
                f"from {current or 'no state'} it may move to {', '.join(allowed)}"
            )


def _pending_repair(tx: Transaction, stack: str, node: str) -> datetime | None:
    """The time of the node's latest mark or verdict when it is a `repaired` mark."""
    found = tx.rows(
        "SELECT state, changed_at FROM state_changes WHERE stack = ? AND node = ? AND state IN "
        f"('repaired', {', '.join(repr(v) for v in VERDICTS)}) ORDER BY id DESC LIMIT 1",
        (stack, node),
    )
    return _time(found[0][1]) if found and found[0][0] == "repaired" else None

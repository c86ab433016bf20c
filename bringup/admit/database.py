"""The ledger's database: its versioned schema and the two backends that hold it.

`open_database` picks a backend: SQLite for a path (WAL, synchronous=FULL, a busy timeout),
PostgreSQL (psycopg 3) for a `postgresql://` URL, from `BACKENDS`. Both run the same SQL,
written with `?` placeholders that the PostgreSQL backend turns into `%s`; what else differs
between the dialects is an attribute of the backend. Every statement runs in a `Transaction`.

The schema is `MIGRATIONS`, applied in order on open, all pending ones in one transaction, and
recorded in `schema_migrations` (version, applied_at); a database whose version is newer than
the last migration here is refused. A released migration is never edited: a change to the
schema is a new migration at the end, with the next version. Times are stored as fixed-width
ISO-8601 UTC text, so they sort the same way in both databases.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
_BUSY_TIMEOUT_S = 30
_MIGRATION_LOCK = 0x6272696E67  # PostgreSQL advisory lock key: any constant all bringups share


class LedgerError(Exception):
    """A refused ledger operation: a move the lifecycle forbids, an unknown run, a newer schema."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema; `{serial}` in a statement is the dialect's auto-numbered key.

    >>> Migration(2, "run operator", ("ALTER TABLE runs ADD COLUMN operator TEXT",)).version
    2
    """

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, verdicts, findings, node states and their history",
        (
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                stack TEXT NOT NULL,
                hosts TEXT NOT NULL,
                settings TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed'))
            )""",
            "CREATE INDEX runs_by_stack ON runs (stack, status, started_at)",
            """CREATE TABLE verdicts (
                id {serial},
                run_id TEXT NOT NULL REFERENCES runs (id),
                stack TEXT NOT NULL,
                node TEXT NOT NULL,
                verdict TEXT NOT NULL
                    CHECK (verdict IN ('admitted', 'quarantined', 'unreachable')),
                judged_at TEXT NOT NULL,
                reason TEXT NOT NULL,
                UNIQUE (run_id, node)
            )""",
            """CREATE TABLE findings (
                verdict_id BIGINT NOT NULL REFERENCES verdicts (id),
                position INTEGER NOT NULL,
                component TEXT NOT NULL,
                check_name TEXT NOT NULL,
                observed TEXT NOT NULL,
                expected TEXT NOT NULL,
                evidence TEXT NOT NULL,
                attributes TEXT NOT NULL,
                PRIMARY KEY (verdict_id, position)
            )""",
            """CREATE TABLE nodes (
                stack TEXT NOT NULL,
                node TEXT NOT NULL,
                state TEXT NOT NULL,
                since TEXT NOT NULL,
                run_id TEXT REFERENCES runs (id),
                reason TEXT NOT NULL,
                verdict_id BIGINT REFERENCES verdicts (id),
                PRIMARY KEY (stack, node)
            )""",
            """CREATE TABLE state_changes (
                id {serial},
                stack TEXT NOT NULL,
                node TEXT NOT NULL,
                state TEXT NOT NULL,
                changed_at TEXT NOT NULL,
                run_id TEXT REFERENCES runs (id),
                reason TEXT NOT NULL
            )""",
            "CREATE INDEX state_changes_by_node ON state_changes (stack, node, id)",
        ),
    ),
)


def timestamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as the ledger stores times: fixed-width ISO-8601 in UTC."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(TIME_FORMAT)


def redact_url(url: str) -> str:
    """`url` with its password, in the user part or the query, replaced by `***`.

    >>> redact_url("postgresql://bringup:s3cret@db.example/ledger")
    'postgresql://bringup:***@db.example/ledger'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = "&".join(
        "password=***" if item.partition("=")[0] == "password" else item
        for item in parts.query.split("&")
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _scrub(text: str, url: str) -> str:
    """`text` with every password of `url` in it, raw or percent-decoded, masked."""
    parts = urlsplit(url)
    found = {parts.password or ""}
    found |= {
        v for k, _, v in (i.partition("=") for i in parts.query.split("&")) if k == "password"
    }
    for secret in sorted(found | {unquote(s) for s in found}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


class _Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any], /) -> object: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> object: ...
    def fetchall(self) -> list[Any]: ...


class Transaction:
    """The statements of one transaction, given `?` placeholders whatever the driver wants."""

    def __init__(self, cursor: _Cursor, placeholder: str) -> None:
        self._cursor = cursor
        self._placeholder = placeholder

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql.replace("?", self._placeholder), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql.replace("?", self._placeholder), rows)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.execute(sql, params)
        return [tuple(row) for row in self._cursor.fetchall()]

    def row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the one row that `sql` returns."""
        ((value, *_),) = self.rows(sql, params)
        return value


class Database(ABC):
    """A connection to the ledger's database, and the few things its SQL dialect does its way."""

    location: str
    serial: str
    for_update: str
    errors: tuple[type[Exception], ...]
    integrity_errors: tuple[type[Exception], ...]

    @abstractmethod
    def transaction(self, *, write: bool) -> AbstractContextManager[Transaction]:
        """A transaction, committed when the block ends and rolled back if it raises."""

    @abstractmethod
    def lock_migrations(self, tx: Transaction) -> None:
        """Keep every other process out of the schema until `tx` ends."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""


class SQLite(Database):
    """A SQLite file, made durable against a killed process and a lost power supply."""

    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    for_update = ""
    errors = (sqlite3.Error,)
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.location = str(path)
        self._conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        (mode,) = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            self._conn.close()
            raise LedgerError(f"ledger {path}: journal mode is {mode}, expected wal")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_S * 1000}")

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        # IMMEDIATE takes the write lock up front, so a writer never fails halfway through
        # with "database is locked" when it would have had to upgrade a read lock.
        cursor = self._conn.cursor()
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Transaction(cursor, "?")
            cursor.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                cursor.execute("ROLLBACK")
            raise

    def lock_migrations(self, tx: Transaction) -> None:
        """Nothing to do: BEGIN IMMEDIATE already excludes every other writer."""

    def close(self) -> None:
        self._conn.close()


class Postgres(Database):
    """A PostgreSQL database, for a ledger shared by several operators' machines."""

    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    for_update = " FOR UPDATE"
    errors = (psycopg.Error,)
    integrity_errors = (psycopg.IntegrityError,)

    def __init__(self, url: str) -> None:
        self.location = redact_url(url)
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            message = _scrub(str(exc).strip(), url)
            raise LedgerError(f"cannot open ledger {self.location}: {message}") from None

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        with self._conn.transaction(), self._conn.cursor() as cursor:
            yield Transaction(cursor, "%s")

    def lock_migrations(self, tx: Transaction) -> None:
        tx.rows("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def close(self) -> None:
        self._conn.close()


BACKENDS: dict[str, Callable[[str], Database]] = {"postgresql": Postgres, "postgres": Postgres}


def open_database(url: str | None, path: Path | None) -> Database:
    """Connect to the ledger at a URL (a scheme of BACKENDS) or SQLite path, and migrate it."""
    if url is None:
        if path is None:
            raise LedgerError("the ledger needs a postgresql:// URL or a SQLite path")
        db: Database = SQLite(path)
    else:
        scheme = urlsplit(url).scheme
        if scheme not in BACKENDS:
            raise LedgerError(
                f"ledger URL {redact_url(url)}: scheme {scheme!r} is not supported, "
                f"expected one of {', '.join(sorted(BACKENDS))}"
            )
        db = BACKENDS[scheme](url)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: Database) -> None:
    """Apply the pending MIGRATIONS in one transaction, or refuse a schema newer than them."""
    known = MIGRATIONS[-1].version
    with db.transaction(write=True) as tx:
        db.lock_migrations(tx)
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        current = tx.value("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        if current > known:
            raise LedgerError(
                f"ledger {db.location}: schema version {current} is newer than this bringup "
                f"knows ({known}); open it with the bringup that wrote it, or a newer one"
            )
        for migration in MIGRATIONS:
            if migration.version > current:
                try:
                    for statement in migration.statements:
                        tx.execute(statement.format(serial=db.serial))
                except db.errors as exc:
                    raise LedgerError(
                        f"ledger {db.location}: migration {migration.version} "
                        f"({migration.name}) failed, nothing applied: {exc}"
                    ) from exc
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (migration.version, timestamp()),
                )

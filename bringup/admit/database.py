"""The ledger's database: its versioned schema and the two backends that hold it.

`open_database` picks a backend: SQLite for a path (WAL, synchronous=FULL, a busy timeout),
PostgreSQL (psycopg 3) for a `postgresql://` URL, from `BACKENDS`. Both run the same SQL,
written with `?` placeholders that the PostgreSQL backend turns into `%s`; what else differs
between the dialects is an attribute of the backend. Every statement runs in a `Transaction`.

Reads never wait for a writer: SQLite in WAL mode lets readers see the last commit while another
process holds the write lock, and PostgreSQL reads in read-only transactions. Writers queue for
at most `_BUSY_TIMEOUT_S`, then give up with a LedgerError. Any error of a driver (a damaged
file, a lock held too long, a lost connection) comes out as one LedgerError line that names the
ledger and what is wrong; a password never appears in one (`redact_url`).

The schema is `MIGRATIONS`, applied in order on open, all pending ones in one transaction, and
recorded in `schema_migrations` (version, applied_at); a database whose version is newer than
the last migration here is refused. Opening a ledger whose schema is current takes no write
lock. A released migration is never edited: a change to the schema is a new migration at the
end, with the next version. Times are stored as fixed-width ISO-8601 UTC text, so they sort the
same way in both databases.
"""

from __future__ import annotations

import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

import psycopg

from bringup.errors import BringupError

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
_BUSY_TIMEOUT_S = 30  # how long a writer waits for another one's lock before it gives up
_MIGRATION_LOCK = 0x6272696E67  # PostgreSQL advisory lock key: any constant all bringups share
_RUNS_LOCK = 0x62727570  # the class of PostgreSQL's per-stack advisory locks on runs


class LedgerError(BringupError):
    """A refused ledger operation: a move the lifecycle forbids, an unknown run, a newer schema,
    a ledger that cannot be used (damaged, read-only, locked too long, unreachable)."""


class LedgerConflict(LedgerError):
    """A write a constraint refused: another writer recorded the same thing first."""


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
    Migration(
        2,
        "the process that owns each run; repair marks by node",
        (
            # who runs it: host name, pid and the process's start (see ledger.Owner); NULL for
            # runs recorded before owners were, which count as abandoned
            "ALTER TABLE runs ADD COLUMN owner_host TEXT",
            "ALTER TABLE runs ADD COLUMN owner_pid BIGINT",
            "ALTER TABLE runs ADD COLUMN owner_start TEXT",
            "CREATE INDEX state_changes_by_state ON state_changes (stack, state, node, id)",
        ),
    ),
    Migration(
        3,
        "incidents: a node in service failing its health checks, and what was done about it",
        (
            # SQLite keeps each statement's text, spaces and all, in the schema it reads on
            # every open: written without indentation, the whole schema stays in its first page.
            # findings and jobs are JSON lists; first_seen_at and last_seen_at are the node's
            # clock (when it observed the failure), every other time the ledger writer's.
            "CREATE TABLE incidents (id {serial}, stack TEXT NOT NULL, node TEXT NOT NULL, "
            "component TEXT NOT NULL, check_name TEXT NOT NULL, observed TEXT NOT NULL, "
            "expected TEXT NOT NULL, findings TEXT NOT NULL, action TEXT NOT NULL, "
            "trigger TEXT NOT NULL, first_seen_at TEXT NOT NULL, opened_at TEXT NOT NULL, "
            "last_seen_at TEXT NOT NULL, seen INTEGER NOT NULL, "
            "status TEXT NOT NULL CHECK (status IN ('open', 'held', 'closed')), "
            "scheduler TEXT NOT NULL, drained_at TEXT, jobs TEXT NOT NULL, "
            "bundle TEXT NOT NULL, breaker TEXT NOT NULL, domain TEXT NOT NULL, "
            "closed_at TEXT, resolution TEXT NOT NULL)",
            "CREATE INDEX incidents_by_node ON incidents (stack, node, status)",
            "CREATE INDEX incidents_by_drain ON incidents (stack, drained_at)",
            # at most one incident of a node not closed, whatever number of writers open one
            "CREATE UNIQUE INDEX incidents_one_unclosed ON incidents (stack, node) "
            "WHERE status IN ('open', 'held')",
        ),
    ),
)


def timestamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as the ledger stores times: fixed-width ISO-8601 in UTC."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(TIME_FORMAT)


# Where a password can be written. Each pattern's `secret` group is the password as written; the
# text before it stays. A URL's user part ends at its last "@", whatever libpq or urllib would
# make of an unescaped "@" or "/" in it, so a malformed URL is masked too much, never too little.
_SECRET_FORMS: tuple[tuple[re.Pattern[str], Callable[[str], str]], ...] = (
    # postgresql://user:secret@host/db
    (re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:@/]*:(?P<secret>\S*)(?=@)"), unquote),
    # postgresql://host/db?password=secret&sslpassword=secret
    (re.compile(r"[?&](?:ssl)?password=(?P<secret>[^&#\s]*)", re.IGNORECASE), unquote),
    # libpq conninfo: password=secret, password = 'a \' b', sslpassword=a\ b
    (
        re.compile(
            r"(?<![\w.?&%-])(?:ssl)?password\s*=\s*"
            r"(?P<secret>'(?:[^'\\]|\\.)*'?|(?:[^\s'\\]|\\.)+)",
            re.IGNORECASE | re.DOTALL,
        ),
        lambda value: re.sub(r"\\(.)", r"\1", value.strip("'"), flags=re.DOTALL),
    ),
)
_MASK = "***"


def redact_url(text: str, url: str | None = None) -> str:
    """`text` (a ledger URL, a libpq conninfo string, a message quoting one) without passwords.

    Masked: the password of `scheme://user:password@host`, every `password` and `sslpassword`
    query parameter or conninfo keyword (quoted or not), and each of those passwords, as
    written or decoded, wherever else it stands as a word of `text`; with `url`, the passwords
    of `url` too, for a driver's message that quotes them.

    >>> redact_url("postgresql://bringup:s3cret@db.example/ledger")
    'postgresql://bringup:***@db.example/ledger'
    >>> redact_url("host=db password='a b' dbname=ledger")
    'host=db password=*** dbname=ledger'
    >>> redact_url("could not connect: s3cret", "postgresql://u@db/x?sslpassword=s3cret")
    'could not connect: ***'
    """
    secrets = _secrets(text) | (_secrets(url) if url is not None else set())
    for pattern, _ in _SECRET_FORMS:
        text = pattern.sub(_masked, text)
    for secret in sorted(secrets, key=len, reverse=True):
        # whole words only, so that a short password does not eat into "postgresql"
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", _MASK, text)
    return text


def _masked(match: re.Match[str]) -> str:
    start, end = match.span("secret")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + _MASK + whole[end - offset :]


def _secrets(text: str) -> set[str]:
    """Every password written in `text`, as written and as decoded; no empty one."""
    found: set[str] = set()
    for pattern, decode in _SECRET_FORMS:
        for match in pattern.finditer(text):
            found |= {match["secret"], decode(match["secret"])}
    return {secret for secret in found if secret and secret != _MASK}


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
    table_exists: str  # SQL: 1 when the table named by its one parameter exists, else 0
    errors: tuple[type[Exception], ...]

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        """A transaction, committed when the block ends and rolled back if it raises.

        A read (`write=False`) takes no write lock and never waits for a writer. A driver's
        error, from the block or the commit, comes out as a LedgerError that says what is wrong.
        """
        try:
            with self._transaction(write=write) as tx:
                yield tx
        except self.errors as exc:
            raise self.refusal(exc) from None

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Transaction]:
        """The driver's transaction, its errors left as they are."""

    @abstractmethod
    def refusal(self, exc: Exception) -> LedgerError:
        """The driver's error `exc` as one line that names the ledger and what is wrong."""

    def redacted(self, text: str) -> str:
        """`text` with every password masked (the ledger's own too, however a driver quotes
        it back)."""
        return redact_url(text)

    @abstractmethod
    def lock_migrations(self, tx: Transaction) -> None:
        """Keep every other process out of the schema until `tx` ends."""

    @abstractmethod
    def lock_runs(self, tx: Transaction, stack: str) -> None:
        """Keep every other process from starting or taking over a run of `stack` until `tx`
        ends."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""


class SQLite(Database):
    """A SQLite file, made durable against a killed process and a lost power supply."""

    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    for_update = ""
    table_exists = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
    errors = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        self._path = path
        problem = _unusable(path) or _truncated(path)
        if problem:
            raise LedgerError(f"ledger {path}: {problem}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"ledger {path}: cannot create its folder {path.parent}: {exc.strerror}"
            ) from None
        self._conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            (mode,) = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode != "wal":
                raise LedgerError(f"ledger {path}: journal mode is {mode}, expected wal")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_S * 1000}")
        except sqlite3.Error as exc:
            self._conn.close()
            raise self.refusal(exc) from None
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Transaction]:
        # IMMEDIATE takes the write lock up front, so a writer never fails halfway through
        # with "database is locked" when it would have had to upgrade a read lock. A read's
        # plain BEGIN reads the last commit from the WAL, whoever holds the write lock.
        cursor = self._conn.cursor()
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Transaction(cursor, "?")
            cursor.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                cursor.execute("ROLLBACK")
            raise

    def refusal(self, exc: Exception) -> LedgerError:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
        if isinstance(exc, sqlite3.IntegrityError):
            return LedgerConflict(f"ledger {self.location}: {exc}")
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            what = (
                f"locked: another process has held its write lock for over {_BUSY_TIMEOUT_S} s; "
                "try again when it is done"
            )
        elif code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
            what = _unusable(self._path) or "cannot be opened for writing"
        else:
            what = _SQLITE_TROUBLES.get(code, "unusable")
        return LedgerError(f"ledger {self.location}: {what} (SQLite: {exc})")

    def lock_migrations(self, tx: Transaction) -> None:
        """Nothing to do: BEGIN IMMEDIATE already excludes every other writer."""

    def lock_runs(self, tx: Transaction, stack: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already excludes every other writer."""

    def close(self) -> None:
        self._conn.close()


_SQLITE_TROUBLES = {
    sqlite3.SQLITE_NOTADB: "not a SQLite database; move it aside or restore the ledger",
    sqlite3.SQLITE_CORRUPT: "damaged (truncated or corrupt); restore it from a backup",
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "the disk failed to read or write it",
}


def _unusable(path: Path) -> str | None:
    """Why a SQLite ledger cannot be kept at `path`, as far as the file system tells; or None."""
    if path.is_dir():
        return "is a folder, expected a SQLite file"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return (
            f"the file is read-only (mode {path.stat().st_mode & 0o777:04o}): bringup writes to it"
        )
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if folder is not None and not folder.is_dir():
        return f"{folder} is not a folder"
    if folder is not None and not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"the folder {folder} is read-only: SQLite keeps its write-ahead log "
            f"({path.name}-wal, {path.name}-shm) beside the ledger"
        )
    return None


def _truncated(path: Path) -> str | None:
    """Whether the file is shorter than its header says, as a problem to report; or None.

    SQLite reads the missing pages as zeros, so a file cut short at a page boundary would
    otherwise be read as a ledger with rows missing or garbled. Pages committed to the
    write-ahead log and not yet copied into the file are not missing: with a log, no verdict.
    """
    wal = path.with_name(f"{path.name}-wal")
    try:
        if wal.exists() and wal.stat().st_size > 0:
            return None
        with path.open("rb") as file:
            header = file.read(100)
        size = path.stat().st_size
    except OSError:
        return None  # no file yet, or one SQLite will say more about
    if not header.startswith(b"SQLite format 3\0") or header[24:28] != header[92:96]:
        return None  # not SQLite's, or a header whose size field is not to be trusted
    page_size = int.from_bytes(header[16:18], "big")
    expected = (65536 if page_size == 1 else page_size) * int.from_bytes(header[28:32], "big")
    if size >= expected or (wal.exists() and wal.stat().st_size > 0):
        return None
    return (
        f"damaged: truncated to {size} bytes, its header says {expected}; restore it from a backup"
    )


class Postgres(Database):
    """A PostgreSQL database, for a ledger shared by several operators' machines."""

    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    for_update = " FOR UPDATE"
    table_exists = (
        "SELECT COUNT(*) FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ?"
    )
    errors = (psycopg.Error,)

    def __init__(self, url: str) -> None:
        self.location = redact_url(url)
        self._url = url
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            message = _one_line(redact_url(str(exc), url))
            raise LedgerError(f"cannot open ledger {self.location}: {message}") from None
        try:
            # a writer waits this long for a row or advisory lock, then gives up
            self._conn.execute(
                "SELECT set_config('lock_timeout', %s, false)", (f"{_BUSY_TIMEOUT_S}s",)
            )
        except psycopg.Error as exc:
            self._conn.close()
            raise self.refusal(exc) from None

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Transaction]:
        with self._conn.transaction(), self._conn.cursor() as cursor:
            if not write:
                cursor.execute("SET TRANSACTION READ ONLY")
            yield Transaction(cursor, "%s")

    def redacted(self, text: str) -> str:
        return redact_url(text, self._url)

    def refusal(self, exc: Exception) -> LedgerError:
        message = _one_line(self.redacted(str(exc)))
        if isinstance(exc, psycopg.IntegrityError):
            return LedgerConflict(f"ledger {self.location}: {message}")
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            message = (
                f"another process has held a lock it needs for over {_BUSY_TIMEOUT_S} s; "
                f"try again when it is done ({message})"
            )
        elif self._conn.broken:
            message = f"the connection was lost: {message}"
        return LedgerError(f"ledger {self.location}: {message}")

    def lock_migrations(self, tx: Transaction) -> None:
        tx.rows("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def lock_runs(self, tx: Transaction, stack: str) -> None:
        tx.rows("SELECT pg_advisory_xact_lock(?, hashtext(?))", (_RUNS_LOCK, stack))

    def close(self) -> None:
        self._conn.close()


def _one_line(message: str) -> str:
    """A driver's message of several lines (libpq adds hints) as one."""
    return re.sub(r"\s*\n\s*", "; ", message.strip())


BACKENDS: dict[str, Callable[[str], Database]] = {"postgresql": Postgres, "postgres": Postgres}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def open_database(url: str | None, path: Path | None) -> Database:
    """Connect to the ledger at a URL (a scheme of BACKENDS) or SQLite path, and migrate it."""
    if url is None:
        if path is None:
            raise LedgerError("the ledger needs a postgresql:// URL or a SQLite path")
        db: Database = SQLite(path)
    else:
        scheme = _SCHEME.match(url)
        if scheme is None or scheme[1] not in BACKENDS:
            seen = f"scheme {scheme[1]!r} is not supported" if scheme else "not a URL"
            raise LedgerError(
                f"ledger URL {redact_url(url)}: {seen}, expected one starting with "
                f"{' or '.join(f'{s}://' for s in sorted(BACKENDS))}"
            )
        db = BACKENDS[scheme[1]](url)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: Database) -> None:
    """Apply the pending MIGRATIONS in one transaction, or refuse a schema newer than them.

    A schema already current is seen in a read, so opening the ledger never waits for a writer.
    """
    with db.transaction(write=False) as tx:
        current = _schema_version(db, tx)
    if current == MIGRATIONS[-1].version:
        return
    _refuse_newer(db, current)
    with db.transaction(write=True) as tx:
        db.lock_migrations(tx)
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        current = _schema_version(db, tx)  # another process may have migrated meanwhile
        _refuse_newer(db, current)
        for migration in MIGRATIONS:
            if migration.version > current:
                try:
                    for statement in migration.statements:
                        tx.execute(statement.format(serial=db.serial))
                except db.errors as exc:
                    said = _one_line(db.redacted(str(exc)))
                    raise LedgerError(
                        f"ledger {db.location}: migration {migration.version} "
                        f"({migration.name}) failed, nothing applied: {said}"
                    ) from None
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (migration.version, timestamp()),
                )


def _schema_version(db: Database, tx: Transaction) -> int:
    if not tx.value(db.table_exists, ("schema_migrations",)):
        return 0
    return int(tx.value("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


def _refuse_newer(db: Database, current: int) -> None:
    known = MIGRATIONS[-1].version
    if current > known:
        raise LedgerError(
            f"ledger {db.location}: schema version {current} is newer than this bringup "
            f"knows ({known}); open it with the bringup that wrote it, or a newer one"
        )

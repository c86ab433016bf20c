"""Ledger test helpers: a throwaway PostgreSQL server and the two backends under test.

The fixtures built on them (`postgres_server`, `backend`, `ledger`) are in conftest.py.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bringup.admit.ledger import Ledger
from bringup.validation.report import Finding

ROOT = Path(__file__).resolve().parents[3]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
STACK = "lab"
GPU = Finding("gpu:node-1/3", "ecc", "12 uncorrectable", "0", "nvidia-smi -q", {"serial": "1650"})
LINK = Finding("nic:node-1/rail2", "link", "Down", "Active", attributes={"cable": "c-17 ✂"})


class PostgresServer:
    """A PostgreSQL server run as the postgres user, listening only on a socket in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._names = itertools.count(1)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.root}"

    def create_database(self) -> str:
        name = f"ledger_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)


def _as_postgres(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", "postgres", "--", *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@contextmanager
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server from Debian's binaries, run as the postgres user, removed after."""
    missing = [PG_BIN / tool for tool in ("initdb", "pg_ctl") if not (PG_BIN / tool).is_file()]
    if missing:
        pytest.fail(f"PostgreSQL server binaries missing: {missing}; install postgresql-15")
    if os.geteuid() != 0:
        pytest.fail("the PostgreSQL tests run the server as the postgres user: run them as root")
    root = Path(tempfile.mkdtemp(prefix="bringup-pg-"))
    shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    started = _as_postgres(PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust")
    if started.returncode == 0:
        options = f"-c listen_addresses='' -k {root} -c fsync=off"
        started = _as_postgres(
            PG_BIN / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-o", options, "start"
        )
    try:
        if started.returncode != 0:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            pytest.fail(f"PostgreSQL did not start: {started.stderr}{started.stdout}{log}")
        yield PostgresServer(root)
    finally:
        _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class Backend:
    """One kind of database under test: fresh databases, the ledger on them, raw SQL into them."""

    errors = (sqlite3.Error, psycopg.Error)

    def __init__(self, name: str, fresh: Callable[[], str]) -> None:
        self.name = name
        self.fresh = fresh
        self.target = fresh()

    def open(self, target: str | None = None) -> Ledger:
        target = target or self.target
        if self.name == "postgresql":
            return Ledger.open(target)
        return Ledger.open(path=Path(target))

    def sql(self, statement: str, target: str | None = None) -> list[tuple[Any, ...]]:
        with self.connect(target) as query:
            return query(statement)

    @contextmanager
    def connect(self, target: str | None = None) -> Iterator[Callable[[str], list[Any]]]:
        """A function that runs one statement on its own (autocommit) and returns its rows."""
        target = target or self.target
        if self.name == "postgresql":
            with psycopg.connect(target, autocommit=True) as conn:

                def query(sql: str) -> list[Any]:
                    cursor = conn.execute(sql)
                    return cursor.fetchall() if cursor.description else []

                yield query
            return
        lite = sqlite3.connect(target, isolation_level=None)
        try:
            yield lambda sql: lite.execute(sql).fetchall()
        finally:
            lite.close()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.root)]


def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The backend a fixture parametrized with BACKENDS asks for."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return Backend("postgresql", server.create_database)
    paths = (str(tmp_path / "state" / f"ledger-{n}.db") for n in itertools.count(1))
    return Backend("sqlite", lambda: next(paths))


def walk(ledger: Ledger, node: str, states: list[str], run_id: str | None = None) -> None:
    for state in states:
        ledger.record_state(STACK, node, state, run_id=run_id, reason=f"to {state}")

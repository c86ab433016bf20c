"""Fixtures of the ledger tests: a PostgreSQL server for the session, each backend, a ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bringup.admit.ledger import Ledger
from tests.unit.admit.ledgers import BACKENDS, Backend, PostgresServer, make_backend, postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with postgres() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request, tmp_path)


@pytest.fixture
def ledger(backend: Backend) -> Iterator[Ledger]:
    with backend.open() as opened:
        yield opened

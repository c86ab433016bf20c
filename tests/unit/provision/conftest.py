"""Fixtures of the playbook-runner tests: an sshd on loopback (tests/unit/provision/sshd.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.provision.sshd import SSHD, Sshd


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """An sshd not yet started (see Sshd.start); stopped after the test."""
    if not SSHD.is_file():
        pytest.skip(f"{SSHD} is not installed")
    folder = tmp_path / "sshd"
    folder.mkdir()
    server = Sshd(folder)
    try:
        yield server
    finally:
        server.stop()

"""A ledger that cannot be used says why in one line; reads never wait for a writer's lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bringup.admit import database
from bringup.admit.ledger import Ledger, LedgerError
from bringup.validation.report import Finding
from tests.unit.admit.ledgers import (
    BACKENDS,
    ROOT,
    STACK,
    Backend,
    make_backend,
    walk,
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request, tmp_path)


def _filled(path: Path) -> Path:
    """A ledger at `path` with 40 judged nodes: several pages of every table."""
    with Ledger.open(path=path) as ledger:
        nodes = [f"node-{i:02d}" for i in range(40)]
        run = ledger.start_run(STACK, nodes, {})
        for node in nodes:
            walk(ledger, node, ["provisioned", "burn-in", "validating"], run.id)
            findings = [Finding(f"gpu:{node}/{g}", "ecc", "x" * 300, "0") for g in range(3)]
            ledger.record_verdict(run.id, STACK, node, "quarantined", findings)
        ledger.finish_run(run.id)
    return path


def _refusal(path: Path) -> str:
    """The one line opening the ledger at `path` and reading it gives."""
    with pytest.raises(LedgerError) as error, Ledger.open(path=path) as ledger:
        ledger.status(STACK)
    (line,) = error.value.lines()
    assert str(path) in line
    return line


# --- files that are no ledger


@pytest.mark.parametrize("content", [b"runs: []\n" * 200, b"x" * 5000, b"\xff" * 4096])
def test_a_file_that_is_not_sqlite(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(content)
    assert "not a SQLite database" in _refusal(path)
    assert path.read_bytes() == content


@pytest.mark.parametrize("kept", [50, 100, 4096, 5000, 0.5, -4096, -1])
def test_a_truncated_ledger(tmp_path: Path, kept: float) -> None:
    """Cut anywhere, even at a page boundary where SQLite would read the rest as zeros."""
    path = _filled(tmp_path / "ledger.sqlite3")
    data = path.read_bytes()
    end = int(len(data) * kept) if isinstance(kept, float) else kept
    path.write_bytes(data[:end])
    assert "damaged" in _refusal(path)


def test_a_ledger_damaged_past_what_opening_reads(tmp_path: Path) -> None:
    """Opening reads the schema only; the first read of a damaged table says so, too."""
    path = _filled(tmp_path / "ledger.sqlite3")
    data = bytearray(path.read_bytes())
    half = len(data) // 2 // 4096 * 4096
    data[half:] = b"\xff" * (len(data) - half)
    path.write_bytes(bytes(data))
    with Ledger.open(path=path) as ledger, pytest.raises(LedgerError) as error:
        ledger.status(STACK)
    (line,) = error.value.lines()
    assert line.startswith(f"ledger {path}: damaged")


def test_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.mkdir()
    assert "is a folder, expected a SQLite file" in _refusal(path)


def test_a_file_where_its_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    assert f"{tmp_path / 'state'} is not a folder" in _refusal(tmp_path / "state" / "l.db")


# --- read-only files and folders: root writes anything, so a root test drops that power

UNPRIVILEGED = ["--inh-caps=-dac_override,-dac_read_search"]
UNPRIVILEGED += ["--bounding-set=-dac_override,-dac_read_search"]
OPEN = """
import json, sys
from pathlib import Path
from bringup.admit.ledger import Ledger, LedgerError
try:
    with Ledger.open(path=Path(sys.argv[1])) as ledger:
        ledger.status("lab")
except LedgerError as error:
    print(json.dumps(error.lines()))
    sys.exit(2)
"""


def _open_without_privileges(path: Path) -> str:
    """The one line a process that may not override file permissions gets opening `path`."""
    argv = [sys.executable, "-c", OPEN, str(path)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to drop root's power over permissions")
        argv = ["setpriv", *UNPRIVILEGED, *argv]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (2, "")
    (line,) = json.loads(done.stdout)
    assert str(path) in line
    return str(line)


def test_a_read_only_file(tmp_path: Path) -> None:
    path = _filled(tmp_path / "ledger.sqlite3")
    path.chmod(0o444)
    line = _open_without_privileges(path)
    assert "the file is read-only (mode 0444)" in line


@pytest.mark.parametrize("exists", [True, False])
def test_a_read_only_folder(tmp_path: Path, exists: bool) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    path = _filled(folder / "ledger.sqlite3") if exists else folder / "ledger.sqlite3"
    folder.chmod(0o555)
    try:
        line = _open_without_privileges(path)
    finally:
        folder.chmod(0o755)
    assert f"the folder {folder} is read-only" in line
    assert "ledger.sqlite3-wal" in line
    assert path.exists() == exists


# --- locks: readers never wait, writers wait a bounded time

HOLD = """
import sys, time
from pathlib import Path
from bringup.admit.database import open_database

target = sys.argv[1]
db = open_database(target, None) if "://" in target else open_database(None, Path(target))
with db.transaction(write=True) as tx:
    db.lock_migrations(tx)
    db.lock_runs(tx, "lab")
    tx.execute("UPDATE nodes SET reason = 'held' WHERE stack = 'lab'")
    tx.execute("UPDATE runs SET status = 'failed' WHERE stack = 'lab'")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
db.close()
"""


@contextmanager
def _write_lock_held(target: str, seconds: float = 120) -> Iterator[subprocess.Popen[str]]:
    """Another process in the middle of a write transaction of the ledger at `target`."""
    argv = [sys.executable, "-c", HOLD, target, str(seconds)]
    holder = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


READ = """
import json, sys, time
from pathlib import Path
from bringup.admit.ledger import Ledger

target = sys.argv[1]
started = time.monotonic()
with Ledger.open(target) if "://" in target else Ledger.open(path=Path(target)) as ledger:
    seen = {
        "status": [(s.node, s.state, s.reason) for s in ledger.status("lab")],
        "runs": [r.id for r in ledger.unfinished_runs("lab")],
        "history": len(ledger.history("lab", "node-1")),
        "repairs": ledger.latest_repairs("lab"),
    }
print(json.dumps({"seconds": time.monotonic() - started, **seen}))
"""


def test_a_read_does_not_wait_for_a_writers_lock(backend: Backend) -> None:
    with backend.open() as ledger:
        run = ledger.start_run(STACK, ["node-1"], {})
        walk(ledger, "node-1", ["provisioned", "burn-in", "validating"], run.id)
    with _write_lock_held(backend.target):
        # in a process of its own, so that a read stuck on the lock fails the test, not hangs it
        argv = [sys.executable, "-c", READ, backend.target]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    # what was committed before the lock was taken, and nothing of the held transaction
    assert seen["status"] == [["node-1", "validating", "to validating"]]
    assert seen["runs"] == [run.id]
    assert seen["history"] == 3
    # the lock is held for 120 s and a writer waits 30 s for it: a read that waited is far over
    assert seen["seconds"] < 10


def test_a_writer_waits_for_the_lock_then_says_so(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    with backend.open() as ledger:
        walk(ledger, "node-1", ["provisioned"])
    monkeypatch.setattr(database, "_BUSY_TIMEOUT_S", 1)
    with backend.open() as ledger, _write_lock_held(backend.target):
        started = time.monotonic()
        with pytest.raises(LedgerError) as error:
            ledger.record_state(STACK, "node-1", "burn-in")
        waited = time.monotonic() - started
    (line,) = error.value.lines()
    assert "held" in line
    assert "for over 1 s; try again when it is done" in line
    assert 0.5 < waited < 30
    with backend.open() as ledger:  # the refused write changed nothing
        status = ledger.node_state(STACK, "node-1")
        assert status is not None
        assert status.state == "provisioned"


def test_a_writer_gets_the_lock_once_it_is_released(backend: Backend) -> None:
    with backend.open() as ledger:
        walk(ledger, "node-1", ["provisioned"])
    with backend.open() as ledger, _write_lock_held(backend.target, seconds=1.5) as holder:
        ledger.record_state(STACK, "node-1", "burn-in")
        assert holder.wait(timeout=30) == 0
        status = ledger.node_state(STACK, "node-1")
        assert status is not None
        assert (status.state, status.reason) == ("burn-in", "")

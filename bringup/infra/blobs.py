"""A content-addressed store of rendered files, so that resource inputs carry only hashes.

The program stages each rendered file in the workspace's store (``.state/artifacts``) under its
sha256; the file provider later copies it to its destination. State stays small (a 100k-GPU
inventory is tens of MB of text) and `pulumi preview` diffs hashes, never contents.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from bringup.atomic import write_atomic


def stage(text: str, store: Path) -> str:
    """Store `text` (if not stored yet) and return its sha256."""
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    path = store / digest
    if not path.exists():
        write_atomic(path, data)
    return digest


def load(digest: str, store: Path) -> bytes:
    """The staged bytes of `digest`; FileNotFoundError names the missing blob."""
    return (store / digest).read_bytes()


ABANDONED = 3600.0
"""Seconds after which a temporary file in the store (a ``.name``: a write in progress) is taken
for what a killed process left, and removed by :func:`prune`."""


def prune(keep: set[str], store: Path, now: float | None = None) -> int:
    """Remove staged blobs not in `keep`, and temporary files older than ABANDONED; returns how
    many were removed."""
    removed = 0
    if store.is_dir():
        cutoff = (time.time() if now is None else now) - ABANDONED
        for path in store.iterdir():
            if path.name.startswith("."):
                try:
                    if path.stat().st_mtime >= cutoff:
                        continue  # another run's write, maybe still going
                except FileNotFoundError:
                    continue
            elif path.name in keep:
                continue
            path.unlink(missing_ok=True)
            removed += 1
    return removed

"""A content-addressed store of rendered files, so that resource inputs carry only hashes.

The program stages each rendered file here under its sha256; the file provider later copies it
to its destination. State stays small (a 100k-GPU inventory is tens of MB of text) and
`pulumi preview` diffs hashes, never contents.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bringup.atomic import write_atomic

STORE = Path(".state") / "artifacts"


def project_root() -> Path:
    """Where inventories and the store live: ``$BRINGUP_ROOT``, else the working directory."""
    return Path(os.environ.get("BRINGUP_ROOT") or os.getcwd())


def stage(text: str, root: Path | None = None) -> str:
    """Store `text` (if not stored yet) and return its sha256."""
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    path = (root or project_root()) / STORE / digest
    if not path.exists():
        write_atomic(path, data)
    return digest


def load(digest: str, root: Path | None = None) -> bytes:
    """The staged bytes of `digest`; FileNotFoundError names the missing blob."""
    return ((root or project_root()) / STORE / digest).read_bytes()


def prune(keep: set[str], root: Path | None = None) -> int:
    """Remove staged blobs not in `keep`; returns how many were removed."""
    store = (root or project_root()) / STORE
    removed = 0
    if store.is_dir():
        for path in store.iterdir():
            if path.name not in keep and not path.name.startswith("."):
                path.unlink(missing_ok=True)
                removed += 1
    return removed

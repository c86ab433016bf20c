"""Atomic file writes: a temporary file in the same folder, then a rename.

`write_atomic` replaces one file; `write_all` replaces several so that a failure in any of them
(a full disk, a folder in the way) leaves every old file as it was and no new one behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO


def write_atomic(path: Path, data: bytes, mode: int = 0o644, *, fixed: bool = False) -> None:
    """Write `data` to `path`; readers see the old file or the new one, never a part.

    The temporary file has a random name, unless `fixed` (:func:`fixed_temporary`): for a
    writer that is the only one of `path`, so that what a killed write left is taken over,
    not kept, by the next write of the same file.
    """
    fd, tmp = _temporary(path, fixed=fixed)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_all(folder: Path, writers: Mapping[str, Callable[[IO[str]], object]]) -> None:
    """Write every file of `writers` ({name: function writing the text}) into `folder`: all of
    them or none. OSError names the file that could not be written."""
    for name in writers:
        target = folder / name
        if target.exists() and not target.is_file():
            raise IsADirectoryError(21, "in the way, not a file", str(target))
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, Path] = {}
    try:
        for name, writer in writers.items():
            fd, tmp = _temporary(folder / name)
            written[folder / name] = tmp
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                writer(handle)
                os.fchmod(handle.fileno(), 0o644)
        for target, tmp in written.items():
            os.replace(tmp, target)
    finally:
        for tmp in written.values():
            tmp.unlink(missing_ok=True)


def fixed_temporary(path: Path) -> Path:
    """The temporary name beside `path` that ``write_atomic(path, ..., fixed=True)`` uses."""
    return path.with_name(f".{path.name}.partial")


def _temporary(path: Path, *, fixed: bool = False) -> tuple[int, Path]:
    """A new empty file beside `path` (its folder made if needed), open for writing: its
    descriptor and its name. Written through the descriptor, never opened again by name."""
    for attempt in range(3):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if not fixed:
                fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
                return fd, Path(name)
            tmp = fixed_temporary(path)
            tmp.unlink(missing_ok=True)  # what a killed write left, whatever it is
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            return os.open(tmp, flags, 0o600), tmp
        except FileNotFoundError:  # a parallel delete removed the emptied folder: make it again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")

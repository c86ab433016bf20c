"""Where the tool outputs live, and how to read them: the real captures (../shared beside the
repository) and the field-shape captures of tests/fixtures/field."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
REAL = SHARED / "fixtures" / "real"
FIELD = Path(__file__).resolve().parents[2] / "fixtures" / "field"


def real_files() -> list[str]:
    """Every file under fixtures/real, as a path relative to it (empty if the folder is absent)."""
    if not REAL.is_dir():
        return []
    return sorted(path.relative_to(REAL).as_posix() for path in REAL.rglob("*") if path.is_file())


def real(relative: str) -> str:
    """The text of one real fixture; fails (not skips) when the shared folder is missing."""
    if not REAL.is_dir():
        pytest.fail(f"real fixtures not found at {REAL.resolve()}")
    return (REAL / relative).read_text(encoding="utf-8")


def field_files() -> list[str]:
    """Every file under tests/fixtures/field, as a path relative to it."""
    return sorted(path.relative_to(FIELD).as_posix() for path in FIELD.rglob("*") if path.is_file())


def field(relative: str) -> str:
    """The text of one field-shape capture (tests/fixtures/field/<tool>/<file>)."""
    return (FIELD / relative).read_text(encoding="utf-8")

"""Golden files: every file rendered for the lab stack, byte for byte.

After an intended change, regenerate with ``BRINGUP_UPDATE_GOLDEN=1 pytest tests/unit/render``
and read the diff: every changed line is a change to what provisioning and validation read.
"""

from __future__ import annotations

import os

from .conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "render" / "lab"
UPDATE = os.environ.get("BRINGUP_UPDATE_GOLDEN") == "1"


def _golden_paths() -> set[str]:
    return {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}


def test_every_lab_file_matches_its_golden_file(lab_files: dict[str, str]) -> None:
    if UPDATE:
        for stale in _golden_paths() - set(lab_files):
            (GOLDEN / stale).unlink()
        for path, text in lab_files.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_text(text, encoding="utf-8")
    assert GOLDEN.is_dir(), f"{GOLDEN} is missing; run with BRINGUP_UPDATE_GOLDEN=1 to create it"
    assert set(lab_files) == _golden_paths(), "rendered files and golden files differ in names"
    differing = [
        path
        for path, text in sorted(lab_files.items())
        if (GOLDEN / path).read_text(encoding="utf-8") != text
    ]
    assert not differing, f"differ from their golden files: {differing}"

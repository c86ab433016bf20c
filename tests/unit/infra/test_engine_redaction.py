"""What the engine's failure lines and logs mask: the passphrase a user gave, and the ledger's
password; not the lab's default passphrase, which is in the code and is part of the lab stack's
own name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.infra.engine import PASSPHRASE_VARIABLE, Engine, _Run
from bringup.lab import PASSPHRASE as LAB_PASSPHRASE
from bringup.workspace import Workspace

LINE = "pulumi:pulumi:Stack bringup-lab creating (0s) error: {secret}"


def run(tmp_path: Path) -> _Run:
    engine = Engine(Workspace(tmp_path), default_passphrase=LAB_PASSPHRASE)
    return _Run(engine, "up", "lab", None)


def test_the_lab_stack_keeps_its_name_in_the_engine_s_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSPHRASE_VARIABLE, raising=False)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    line = LINE.format(secret="nothing")
    assert run(tmp_path).redacted(line) == line


def test_a_passphrase_and_a_ledger_password_given_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "canary-9c2e")
    monkeypatch.setenv(LEDGER_URL_VARIABLE, "postgresql://bringup:pw-4d1a@db/ledger")
    text = run(tmp_path).redacted(LINE.format(secret="canary-9c2e and pw-4d1a"))
    assert "canary-9c2e" not in text
    assert "pw-4d1a" not in text
    assert "Stack bringup-lab creating" in text

"""A bug or an unexpected OSError reaches the user as one line and exit 1, its traceback in a
log under .state/logs/ without a secret; Ctrl-C as ``interrupted`` and exit 130."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from typer.testing import CliRunner, Result

import bringup.cli.plan
from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.cli import app
from bringup.cli.crashlog import KEEP
from bringup.infra.engine import PASSPHRASE_VARIABLE

STACKS = Path(__file__).resolve().parents[2] / "stacks"
PASSPHRASE = "hunter2-passphrase"
LEDGER_URL = "postgresql://bringup:s3cret-ledger@db.example/ledger"
SECRETS = (PASSPHRASE, "s3cret-ledger", "pw-in-message")


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PASSPHRASE_VARIABLE, PASSPHRASE)
    monkeypatch.setenv(LEDGER_URL_VARIABLE, LEDGER_URL)
    return tmp_path


def plan_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> Result:
    """`bringup plan lab` with planning raising `error`."""

    def fail(*_: object) -> NoReturn:
        raise error

    monkeypatch.setattr(bringup.cli.plan, "make_plan", fail)
    return CliRunner().invoke(app, ["plan", "lab", "--stacks-dir", str(STACKS)])


def logs(project: Path) -> list[Path]:
    return sorted((project / ".state" / "logs").glob("*"))


def test_a_bug_is_one_line_naming_its_log(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = f"boom {PASSPHRASE} {LEDGER_URL} postgresql://u:pw-in-message@h/db\nsecond line"
    result = plan_raising(monkeypatch, RuntimeError(message))
    (log,) = logs(project)
    said = (
        "error: internal error: RuntimeError: boom <PULUMI_CONFIG_PASSPHRASE> "
        "<BRINGUP_LEDGER_URL> postgresql://u:***@h/db\\nsecond line "
        f"(details: {log})\n"
    )
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", said)
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last):" in text
    assert "in plan_command" in text
    assert "RuntimeError: boom <PULUMI_CONFIG_PASSPHRASE> <BRINGUP_LEDGER_URL>" in text
    assert not any(secret in text for secret in SECRETS)
    assert log.stat().st_mode & 0o777 == 0o600


def test_an_unexpected_os_error_is_a_bug(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = plan_raising(monkeypatch, PermissionError(13, "Permission denied", "/srv/x"))
    (log,) = logs(project)
    said = (
        "error: internal error: PermissionError: [Errno 13] Permission denied: '/srv/x' "
        f"(details: {log})\n"
    )
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", said)


def test_the_newest_logs_are_kept(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = project / ".state" / "logs"
    folder.mkdir(parents=True)
    old = [folder / f"internal-20200101T0000{i:02}.000000Z-1.log" for i in range(KEEP + 5)]
    for path in old:
        path.write_text("old\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not a log\n", encoding="utf-8")
    result = plan_raising(monkeypatch, RuntimeError("boom"))
    assert result.exit_code == 1
    kept = [p for p in logs(project) if p.name.startswith("internal-")]
    assert len(kept) == KEEP
    assert kept[:-1] == old[-(KEEP - 1) :]
    assert re.fullmatch(r"internal-\d{8}T\d{6}\.\d{6}Z-\d+\.log", kept[-1].name)
    assert (folder / "notes.txt").exists()


def test_a_log_that_cannot_be_written_is_said(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".state").write_text("in the way\n", encoding="utf-8")
    result = plan_raising(monkeypatch, RuntimeError("boom"))
    said = (
        "error: internal error: RuntimeError: boom (details not written: NotADirectoryError: "
        f"[Errno 20] Not a directory: '{project / '.state' / 'logs'}')\n"
    )
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", said)


def test_ctrl_c_is_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = plan_raising(monkeypatch, KeyboardInterrupt())
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "interrupted\n")
    assert list(project.iterdir()) == []


RAISING = """
import os, signal, sys, time
import bringup.cli.plan
from bringup.cli import main

how, stacks = sys.argv[1:]

def fail(*_):
    if how == "interrupt":
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    raise ValueError("planning went wrong")

bringup.cli.plan.make_plan = fail
sys.argv[1:] = ["plan", "lab", "--stacks-dir", stacks]
main()
"""


def _run_raising(how: str, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RAISING, how, str(STACKS)],
        cwd=project,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_bug_in_a_real_process(project: Path) -> None:
    done = _run_raising("raise", project)
    (log,) = logs(project)
    said = f"error: internal error: ValueError: planning went wrong (details: {log})\n"
    assert (done.returncode, done.stdout, done.stderr) == (1, "", said)
    assert "Traceback" in log.read_text(encoding="utf-8")


def test_sigint_in_a_real_process(project: Path) -> None:
    done = _run_raising("interrupt", project)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "interrupted\n")
    assert list(project.iterdir()) == []


def test_the_secret_variables_are_the_ones_bringup_reads() -> None:
    from bringup.admit.prepare import LEDGER_URL_VARIABLE
    from bringup.cli.crashlog import SECRET_VARIABLES

    assert set(SECRET_VARIABLES) == {PASSPHRASE_VARIABLE, LEDGER_URL_VARIABLE}

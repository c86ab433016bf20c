"""Values print as they are: rich markup, emoji codes and colons in a value are text, and an
error line stays one line however long it is, on a terminal or in a pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from bringup.admit.ledger import Ledger
from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.cli import EXIT_BAD_INPUT, app
from bringup.cli.common import console
from bringup.lab.faults import FAULTS
from bringup.validation.report import Finding

STACKS = Path(__file__).resolve().parents[2] / "stacks"
NODE = "lab-h1-r01-k01-n1"
MARKUP = "[/bold] [red]x[/red] :bomb: v1:abc:def"
"""A closing tag with nothing open (rich raises on it), a style, an emoji code, and a string
with ``:abc:`` inside, which is an emoji code too."""


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    return tmp_path


def bringup(*args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--stacks-dir", str(STACKS)])


def assert_refused(result: Result, line: str) -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (
        EXIT_BAD_INPUT,
        "",
        f"error: {line}\n",
    )


def test_a_site_name_with_markup_is_quoted_as_it_is(project: Path) -> None:
    data = yaml.safe_load((STACKS / "Pulumi.lab.yaml").read_text(encoding="utf-8"))
    data["config"]["bringup:cluster"]["site"]["name"] = MARKUP
    path = project / "Pulumi.marked.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", "marked", "--stacks-dir", str(project)])
    assert_refused(
        result,
        f"invalid cluster declaration in {path}: site.name: got {MARKUP!r}; expected a DNS label "
        "(RFC 1123): lowercase letters, digits and '-', 1 to 63 characters, starting and ending "
        "with a letter or digit",
    )


def test_limit_names_with_markup_are_named_as_they_are() -> None:
    result = bringup("admit", "--limit", MARKUP.replace(" ", ","))
    assert_refused(result, "--limit: :bomb:, [/bold], [red]x[/red], v1:abc:def not in stack 'lab'")


def test_a_domain_policy_with_markup_is_named_as_it_is() -> None:
    result = bringup("admit", "--domain-policy", MARKUP)
    assert_refused(
        result,
        f"--domain-policy: domain policy {MARKUP!r}: expected 'unit' or 'quorum:N' with N >= 1 "
        "(e.g. quorum:16)",
    )


def test_a_usage_error_names_the_value_as_it_is() -> None:
    result = bringup("plan", "lab", "--format", MARKUP)
    assert_refused(
        result,
        f"Invalid value for '--format': Value error, {MARKUP!r} is not one of 'table', 'json'; "
        "try 'bringup plan --help'",
    )


def _quarantine(project: Path, finding: Finding) -> None:
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        run = ledger.start_run("lab", [NODE], {})
        ledger.record_state("lab", NODE, "provisioned", run_id=run.id)
        ledger.record_state("lab", NODE, "validating", run_id=run.id)
        ledger.record_verdict(run.id, "lab", NODE, "quarantined", [finding])


def test_a_repair_note_with_markup_prints_as_it_is(project: Path) -> None:
    _quarantine(project, Finding(f"gpu:{NODE}/2", "gpu.ecc_uncorrected", "3", "0"))
    result = bringup("repaired", NODE, "--note", MARKUP, "--stack", "lab", "--mark-only")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"{NODE}: repaired ({MARKUP})\n"


def test_a_finding_with_markup_prints_as_it_is_in_the_status_table(project: Path) -> None:
    _quarantine(project, Finding("[red]x[/red]", ":bomb:", "v1:abc:def", "[/bold]"))
    result = bringup("status", "--stack", "lab")
    assert (result.exit_code, result.stderr) == (0, "")
    row = next(line for line in result.stdout.splitlines() if NODE in line)
    assert "[red]x[/red] :bomb:" in row


def test_lab_faults_prints_each_kind_and_its_line() -> None:
    result = CliRunner().invoke(app, ["lab", "faults"])
    assert (result.exit_code, result.stderr) == (0, "")
    expected = [f"{name:<20} {(fn.__doc__ or '').strip()}" for name, fn in sorted(FAULTS.items())]
    assert result.stdout.splitlines() == expected


def test_a_long_error_line_is_not_wrapped_in_a_pipe(project: Path) -> None:
    node = "n" * 300
    environment = {k: v for k, v in os.environ.items() if k != LEDGER_URL_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-m", "bringup", "admit", "--limit", node, "--stacks-dir", str(STACKS)],
        cwd=project,
        env={**environment, "COLUMNS": "80", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = f"error: --limit: {node} not in stack 'lab'\n"
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_BAD_INPUT, "", line)


def test_the_error_console_does_not_wrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a command prints on stderr through the console (the engine's failures) stays one
    line in a pipe, where the console is 120 columns wide."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    text = f"up failed: {MARKUP} " + "x" * 300
    console(stderr=True).print(text)
    assert stream.getvalue() == text + "\n"

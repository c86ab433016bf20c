"""Bad input, through the real command line: exit 2, one line on stderr naming the field or
path and the value, nothing on stdout, nothing written to the project.

Most cases go through typer's CliRunner; those that need a process of their own (a read-only
folder, a file size limit, a FIFO) or check the streams of the real entry point run
``python -m bringup``.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bringup.admit.prepare import LEDGER_URL_VARIABLE
from bringup.cli import EXIT_BAD_INPUT, app

REPOSITORY = Path(__file__).resolve().parents[2]
STACKS = REPOSITORY / "stacks"
LAB = STACKS / "Pulumi.lab.yaml"
NOT_A_NAME = "expected a name of letters, digits, '-', '_' and '.' (e.g. gb200-su), not a path"

Tree = dict[str, tuple[int, int, int, bytes | None]]


def tree(folder: Path) -> Tree:
    """Every path under `folder`: its kind and mode, and a file's mtime and bytes. A folder's
    mtime is left out: a temporary file made and removed again leaves nothing behind."""
    found: Tree = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        regular = stat.S_ISREG(st.st_mode)
        data = path.read_bytes() if regular else None
        found[str(path.relative_to(folder))] = (
            st.st_mode,
            st.st_mtime_ns if regular else 0,
            st.st_size if regular else 0,
            data,
        )
    return found


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, the working directory; its parent holds what tests put beside."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    return root


def bringup(*args: str, env: dict[str, str] | None = None) -> Result:
    """`bringup ARGS` through typer's runner, stdout and stderr apart."""
    return CliRunner().invoke(app, list(args), env=env)


def assert_refused(result: Result, line: str) -> None:
    """Exit 2 and exactly `line` on stderr (after ``error: ``), nothing on stdout."""
    assert (result.exit_code, result.stdout, result.stderr) == (
        EXIT_BAD_INPUT,
        "",
        f"error: {line}\n",
    )


def run(
    args: Sequence[str],
    cwd: Path,
    *,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    small_files: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m bringup ARGS` in a process of its own, no terminal, 80 columns."""
    environment = {k: v for k, v in os.environ.items() if k != LEDGER_URL_VARIABLE}
    environment.update(COLUMNS="80", PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bringup", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_limit_file_size if small_files else None,
    )


def _limit_file_size() -> None:
    """In the child: no file may grow past 1 KiB, and a write past it fails with EFBIG (the
    signal it would otherwise get is ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def assert_process_refused(done: subprocess.CompletedProcess[str], line: str) -> None:
    """The process exited 2 with exactly `line` on stderr and nothing on stdout."""
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_BAD_INPUT, "", f"error: {line}\n")


# --- plan --out


def test_plan_out_an_existing_file(project: Path) -> None:
    (project / "out").write_text("mine\n", encoding="utf-8")
    before = tree(project.parent)
    result = bringup("plan", "lab", "--stacks-dir", str(STACKS), "--out", "out")
    assert_refused(result, "--out: out is a file; expected a folder")
    assert tree(project.parent) == before


@pytest.mark.parametrize("old_plan", [True, False], ids=["old-plan-json", "no-plan-json"])
def test_plan_out_cabling_csv_a_folder(project: Path, old_plan: bool) -> None:
    (project / "out" / "cabling.csv").mkdir(parents=True)
    if old_plan:
        (project / "out" / "plan.json").write_text("{}\n", encoding="utf-8")
    before = tree(project.parent)
    result = bringup("plan", "lab", "--stacks-dir", str(STACKS), "--out", "out")
    assert_refused(result, "--out: cannot write out/cabling.csv: in the way, not a file")
    assert tree(project.parent) == before  # no new plan.json without its cabling.csv


def test_plan_out_a_read_only_folder(project: Path) -> None:
    """Root writes through file modes, so as root the folder is a read-only bind mount of
    itself, in a mount namespace of the command's own (gone when it exits)."""
    out = project / "out"
    out.mkdir()
    args = ["plan", "lab", "--stacks-dir", str(STACKS), "--out", "out"]
    before = tree(project.parent)
    if os.geteuid() == 0:
        bind = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        done = run(args, project, prefix=["unshare", "--mount", "sh", "-c", bind, str(out)])
        why = os.strerror(errno.EROFS)
    else:
        out.chmod(0o555)
        try:
            done = run(args, project)
        finally:
            out.chmod(0o755)
        why = os.strerror(errno.EACCES)
    assert_process_refused(done, f"--out: cannot write out: {why}")
    assert tree(project.parent) == before


def test_plan_out_past_the_file_size_limit(project: Path) -> None:
    before = tree(project.parent)
    done = run(
        ["plan", "lab", "--stacks-dir", str(STACKS), "--out", "out/plans"],
        project,
        small_files=True,
    )
    why = os.strerror(errno.EFBIG)
    assert_process_refused(done, f"--out: cannot write out/plans/plan.json: {why}")
    assert tree(project.parent) == before  # neither a file nor the folders made for them


# --- a stack is a name, never a path


def test_up_stack_an_absolute_path(project: Path) -> None:
    path = project.parent / "path.yaml"
    shutil.copy(LAB, path)
    before = tree(project.parent)
    result = bringup("up", "--stack", str(path), "--stacks-dir", str(STACKS))
    assert_refused(result, f"stack {str(path)!r}: {NOT_A_NAME}")
    assert tree(project.parent) == before


def test_admit_stack_a_relative_path(project: Path) -> None:
    (project.parent / "x").mkdir()
    shutil.copy(LAB, project.parent / "x" / "rel.yaml")
    before = tree(project.parent)
    result = bringup("admit", "--stack", "../x/rel.yaml", "--stacks-dir", str(STACKS))
    assert_refused(result, f"stack '../x/rel.yaml': {NOT_A_NAME}")
    assert tree(project.parent) == before  # nothing in inventory/, nothing anywhere


def test_status_stack_a_path_out_of_the_project(project: Path) -> None:
    before = tree(project.parent)
    result = bringup("status", "--stack", "../../etc/passwd", "--stacks-dir", str(STACKS))
    assert_refused(result, f"stack '../../etc/passwd': {NOT_A_NAME}")
    assert "root:" not in result.output
    assert tree(project.parent) == before


# --- options of admit and provision


def test_admit_a_quorum_larger_than_the_domains(project: Path) -> None:
    result = bringup("admit", "--domain-policy", "quorum:99", "--stacks-dir", str(STACKS))
    assert_refused(
        result,
        "--domain-policy: quorum:99 cannot be met: the NVLink domains judged have 18 nodes; "
        "expected quorum:1 to quorum:18",
    )
    assert tree(project) == {}


@pytest.mark.parametrize("command", ["admit", "provision"])
@pytest.mark.parametrize("limit", ["", ","])
def test_an_empty_limit(project: Path, command: str, limit: str) -> None:
    result = bringup(command, "--limit", limit, "--stacks-dir", str(STACKS))
    assert_refused(result, f"--limit: expected comma-separated names, got {limit!r}")
    assert tree(project) == {}


def test_provision_limit_an_unknown_node(project: Path) -> None:
    result = bringup("provision", "--limit", "nosuch-node", "--stacks-dir", str(STACKS))
    assert_refused(result, "--limit: nosuch-node not a node or group of stack 'lab'")
    assert tree(project) == {}


def test_a_usage_error_is_one_line(project: Path) -> None:
    result = bringup("admit", "--level", "9", "--stacks-dir", str(STACKS))
    assert_refused(
        result,
        "Invalid value for '--level': Input should be less than or equal to 4; "
        "try 'bringup admit --help'",
    )
    assert tree(project) == {}


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--bogus"], "No such option: --bogus; try 'bringup --help'"),
        (["lab", "--bogus"], "No such option: --bogus; try 'bringup lab --help'"),
        (["nosuch"], "No such command 'nosuch'; try 'bringup --help'"),
        (["lab", "nosuch"], "No such command 'nosuch'; try 'bringup lab --help'"),
    ],
    ids=["option", "lab-option", "command", "lab-command"],
)
def test_a_usage_error_of_a_group_is_one_line(project: Path, args: list[str], line: str) -> None:
    assert_refused(bringup(*args), line)
    assert tree(project) == {}


# --- declarations that cannot be read


@pytest.fixture
def stacks(project: Path) -> Path:
    """A stacks folder beside the project holding the lab stack."""
    folder = project.parent / "stacks"
    folder.mkdir()
    shutil.copy(LAB, folder / "Pulumi.lab.yaml")
    return folder


def test_a_corrupted_stack_file(project: Path, stacks: Path) -> None:
    path = stacks / "Pulumi.broken.yaml"
    path.write_text("config: {bringup:cluster: [\n", encoding="utf-8")
    before = tree(project.parent)
    result = bringup("status", "--stack", "broken", "--stacks-dir", str(stacks))
    assert_refused(
        result,
        f"invalid cluster declaration in {path}: <yaml>: not valid YAML: line 2, column 1: "
        "while parsing a flow node; did not find expected node content",
    )
    assert tree(project.parent) == before


def test_a_missing_stack_file(project: Path, stacks: Path) -> None:
    before = tree(project.parent)
    result = bringup("admit", "--stack", "gone", "--stacks-dir", str(stacks))
    path = stacks / "Pulumi.gone.yaml"
    assert_refused(result, f"stack 'gone': no file {path}; known stacks: lab")
    assert tree(project.parent) == before


def test_a_stack_file_that_is_a_fifo(project: Path, stacks: Path) -> None:
    """Opening a FIFO for reading would wait for a writer: the loader looks before it opens."""
    path = stacks / "Pulumi.pipe.yaml"
    os.mkfifo(path)
    before = tree(project.parent)
    done = run(["plan", "pipe", "--stacks-dir", str(stacks)], project)
    assert_process_refused(
        done,
        f"invalid cluster declaration in {path}: <file>: is a named pipe (FIFO); "
        "expected a regular file",
    )
    assert tree(project.parent) == before


# --- an unusable ledger


def test_a_ledger_url_that_cannot_be_parsed_keeps_its_password(project: Path) -> None:
    url = "postgresql://u:p@[::1/db"
    result = bringup(
        "status", "--stack", "lab", "--stacks-dir", str(STACKS), env={LEDGER_URL_VARIABLE: url}
    )
    masked = "postgresql://u:***@[::1/db"
    assert_refused(
        result,
        f"ledger: cannot open ledger {masked}: end of string reached when looking for matching "
        f'"]" in IPv6 host address in URI: "{masked}"',
    )
    assert "u:p@" not in result.output
    assert tree(project) == {}

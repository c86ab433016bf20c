"""The main job as a user runs it (marked `root` and `engine`): `bringup lab up`, then
`bringup up --stack lab --admit`, on a busy machine, then again on a lab built anew.

One project for the module, with two secrets planted the way users hold them: the engine's
passphrase in PULUMI_CONFIG_PASSPHRASE and a PostgreSQL ledger whose URL carries a password
(the throwaway server trusts its socket, so the password is only carried, never checked). The
last test looks for both in every file of the project and every line the commands printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.unit.admit.ledgers import postgres

pytestmark = [pytest.mark.root, pytest.mark.engine]

REPOSITORY = Path(__file__).resolve().parents[2]
STACKS = REPOSITORY / "stacks"
PASSPHRASE = "canary-passphrase-7f3a9c"
PASSWORD = "canary-password-4b1e8d"
NODES = 21


@dataclass
class Project:
    """The project folder, the environment the commands run with, and all they printed."""

    root: Path
    env: dict[str, str]
    printed: list[str] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "bringup", *args]
        if args[0] != "lab" or args[1] == "up":
            argv += ["--stacks-dir", str(STACKS)]
        done = subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        self.printed += [done.stdout, done.stderr]
        return done


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("main-job")
    with postgres() as server:
        url = server.create_database().replace(
            "postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@"
        )
        env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "BRINGUP_LEDGER_URL": url}
        job = Project(root, env)
        try:
            yield job
        finally:
            job.run("lab", "down", "--stack", "lab")


def _admitted(output: str) -> set[str]:
    return set(re.findall(r"(lab-h1-r\S+)\s+│\s+admitted", output))


def _hogs(count: int) -> list[subprocess.Popen[bytes]]:
    """Processes that keep the machine's CPUs busy, as other work on a shared machine does."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def test_the_main_job_passes_the_first_time_on_a_busy_machine(project: Project) -> None:
    hogs = _hogs(2)
    try:
        assert project.run("plan", "lab").returncode == 0
        assert project.run("lab", "down", "--stack", "lab").returncode == 0
        assert project.run("lab", "up", "--stack", "lab").returncode == 0
        up = project.run("up", "--stack", "lab", "--admit")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert len(_admitted(up.stdout)) == NODES, up.stdout[-3000:]
    assert "Traceback" not in up.stdout + up.stderr
    # the main job ends with the Slurm view: every admitted node idle, a two-node job on two
    slurm = project.run("lab", "slurm", "--stack", "lab")
    assert slurm.returncode == 0, slurm.stdout[-3000:] + slurm.stderr[-3000:]
    ran = slurm.stdout.split("hostname:", 1)[1].split()
    assert len(set(ran)) == 2, slurm.stdout[-2000:]
    assert set(ran) <= _admitted(up.stdout)
    assert " idle " in slurm.stdout, slurm.stdout[-2000:]
    assert "drain" not in slurm.stdout, slurm.stdout[-2000:]
    # and it ends with the report, whose path it prints
    report = project.run("report", "--stack", "lab", "--out", "out/report")
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    page = project.root / report.stdout.strip().splitlines()[-1]  # as printed, from the project
    assert page.name == "index.html"
    assert page.is_file()
    assert f'<div class="tile a"><b>{NODES}</b> admitted</div>' in page.read_text()


def test_a_lab_built_anew_is_provisioned_and_judged_again(project: Project) -> None:
    """The engine's state remembers the old nodes; the new ones hold nothing yet."""
    assert project.run("lab", "down", "--stack", "lab").returncode == 0
    assert project.run("lab", "up", "--stack", "lab").returncode == 0
    preview = project.run("preview", "--stack", "lab", "--admit")
    assert preview.returncode == 0, preview.stderr[-2000:]
    assert preview.stdout.count("no record of a converge on the node; up makes it right") == NODES
    up = project.run("up", "--stack", "lab", "--admit")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert up.stdout.count("no record of a converge on the node; made right by this up") == NODES
    assert len(_admitted(up.stdout)) == NODES
    # what up said is true of the nodes: judged again from scratch, they are admitted
    admit = project.run("admit", "--stack", "lab", "--no-burn-in")
    assert admit.returncode == 0, admit.stdout[-3000:]
    assert f"{NODES} of {NODES} node(s) admitted" in admit.stdout
    again = project.run("up", "--stack", "lab", "--admit")
    assert again.returncode == 0
    assert "│ same" in again.stdout
    assert "drift" not in again.stdout


def test_no_secret_reaches_a_file_or_a_line(project: Project) -> None:
    node = "lab-h1-r01-k03-n1"
    assert project.run("provision", "--stack", "lab", "--limit", node).returncode == 0
    assert project.run("status", "--stack", "lab").returncode == 0
    assert project.run("status", "--stack", "nosuch").returncode == 2  # an error path too
    secrets = (PASSPHRASE.encode(), PASSWORD.encode())
    leaked = []
    for path in sorted(project.root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            leaked += [f"{path}: {s.decode()}" for s in secrets if s in data]
    for text in project.printed:
        leaked += [f"printed: {s.decode()}" for s in secrets if s.decode() in text]
    assert leaked == []
    files = sum(1 for p in project.root.rglob("*") if p.is_file())
    assert files > 1000  # the project holds the runs' artifacts, logs and state: all looked at

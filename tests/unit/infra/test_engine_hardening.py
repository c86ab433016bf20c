"""The engine under the conditions users meet (marked `engine`): `bringup up` killed in the
middle, two stacks at once, files changed by hand, a declaration gone, a failing resource.

Each test drives the real command line in a process of its own, in a project folder of its
own, the way a user or a CI job does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.engine

REPOSITORY = Path(__file__).resolve().parents[3]
LAB = REPOSITORY / "stacks" / "Pulumi.lab.yaml"


def _cluster(name: str, racks: int) -> dict[str, object]:
    """HGX H100 racks of 4 nodes, 8 racks an SU (one SU a row), on compute and in-band."""
    groups = [
        {"sku": "hgx-h100", "count": min(8, racks - 8 * (su - 1)), "hall": 1, "row": su,
         "rack": 1, "su": su, "units": 4}
        for su in range(1, (racks + 7) // 8 + 1)
    ]  # fmt: skip
    fabric = {"nodes_per_su": 32}
    return {
        "name": name,
        "site": {"name": "test"},
        "racks": groups,
        "fabrics": [
            {"name": "compute", "kind": "infiniband", "role": "compute", "switch": "qm9700",
             "speed_gbps": 400, "cidr": "10.0.0.0/10", **fabric},
            {"name": "inband", "kind": "ethernet", "role": "inband", "switch": "sn4600c",
             "speed_gbps": 100, "cidr": "10.64.0.0/12", **fabric},
        ],
        "access": {"via": "lab"},  # the lab's passphrase default: no secret needed here
    }  # fmt: skip


def _project(tmp_path: Path, **stacks: dict[str, object]) -> Path:
    (tmp_path / "stacks").mkdir(parents=True, exist_ok=True)
    for name, cluster in stacks.items():
        document = {"config": {"bringup:cluster": cluster}}
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def _bringup(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_CONFIG_PASSPHRASE"}
    return subprocess.run(
        [sys.executable, "-m", "bringup", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _start(project: Path, *args: str, session: bool = False) -> subprocess.Popen[str]:
    """`bringup ARGS` started; with `session`, in a process group of its own (as a shell's
    foreground job is), that a test can signal whole."""
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_CONFIG_PASSPHRASE"}
    return subprocess.Popen(
        [sys.executable, "-m", "bringup", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=session,
    )


def _files(project: Path, stack: str) -> dict[str, str]:
    folder = project / "inventory" / stack
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _engine_processes(project: Path) -> list[int]:
    """Processes started for this project's engine (the CLI and its providers carry
    BRINGUP_ROOT=<project> in their environment)."""
    marker = f"BRINGUP_ROOT={project}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _wait_gone(project: Path, seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _engine_processes(project)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


RACKS = 240


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files an uninterrupted `up` writes."""
    project = _project(tmp_path_factory.mktemp("reference"), big=_cluster("big", RACKS))
    done = _bringup(project, "up", "--stack", "big")
    assert done.returncode == 0, done.stderr
    return _files(project, "big")


CTRL_C = "ctrl-c"  # SIGINT to bringup's whole process group, as a terminal sends it


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, CTRL_C], ids=["kill", "term", "ctrl-c"]
)
@pytest.mark.parametrize("written", [0.2, 0.7], ids=["early", "late"])
def test_an_interrupted_up_is_converged_by_the_next_one(
    tmp_path: Path, reference: dict[str, str], sig: signal.Signals | str, written: float
) -> None:
    project = _project(tmp_path, big=_cluster("big", RACKS))
    running = _start(project, "up", "--stack", "big", session=True)
    host_vars = project / "inventory" / "big" / "host_vars"
    goal = int(RACKS * 4 * written)
    deadline = time.monotonic() + 300
    while running.poll() is None and time.monotonic() < deadline:
        if host_vars.is_dir() and sum(1 for _ in host_vars.iterdir()) >= goal:
            break
        time.sleep(0.05)
    assert running.poll() is None, "up ended before the signal: make the stack larger"
    if sig == CTRL_C:
        os.killpg(running.pid, signal.SIGINT)
    else:
        running.send_signal(sig)
    _, stderr = running.communicate(timeout=300)
    assert running.returncode != 0
    if sig != signal.SIGKILL:
        clean = signal.SIGINT if sig == CTRL_C else signal.SIGTERM
        assert running.returncode == 128 + clean, stderr
        assert f"interrupted by {clean.name}" in stderr
        assert "Traceback" not in stderr
    assert _wait_gone(project) == []  # no engine or provider process outlives bringup
    again = _bringup(project, "up", "--stack", "big")
    assert again.returncode == 0, again.stderr
    if sig != signal.SIGKILL:  # a clean cancellation released its lock
        assert "removed a lock" not in again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    assert _files(project, "big") == reference
    quiet = _bringup(project, "up", "--stack", "big")
    assert "│ same" in quiet.stdout
    assert "create" not in quiet.stdout
    assert "update" not in quiet.stdout
    assert _wait_gone(project) == []


def test_a_live_lock_is_kept_and_a_signal_while_waiting_for_it_stops_the_wait(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, small=_cluster("small", 2))
    locks = project / ".state/pulumi/.pulumi/locks/organization/bringup/small"
    locks.mkdir(parents=True)
    holder_bin = tmp_path / "pulumi"  # another engine, as the lock check sees it
    shutil.copy("/bin/sleep", holder_bin)
    with subprocess.Popen([str(holder_bin), "300"]) as holder:
        live = {"pid": holder.pid, "username": "root", "hostname": os.uname().nodename,
                "timestamp": "2026-12-01T00:00:00Z"}  # fmt: skip
        (locks / "held.json").write_text(json.dumps(live))
        running = _start(project, "up", "--stack", "small")
        try:
            time.sleep(8)  # planned, and waiting for the lock (it waits up to two minutes)
            assert running.poll() is None
            running.send_signal(signal.SIGTERM)
            _, stderr = running.communicate(timeout=30)
        finally:
            running.kill()
            holder.kill()
    assert running.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted by SIGTERM" in stderr
    assert (locks / "held.json").exists()  # another engine's lock is never taken
    assert not (project / "inventory/small").exists()


def test_a_lock_whose_process_is_gone_is_removed_and_said(tmp_path: Path) -> None:
    project = _project(tmp_path, small=_cluster("small", 2))
    assert _bringup(project, "up", "--stack", "small").returncode == 0
    locks = project / ".state/pulumi/.pulumi/locks/organization/bringup/small"
    locks.mkdir(parents=True, exist_ok=True)
    ended = subprocess.Popen(["true"])
    ended.wait()  # its pid no longer runs
    stale = {"pid": ended.pid, "username": "root",
             "hostname": os.uname().nodename, "timestamp": "2026-12-01T00:00:00Z"}  # fmt: skip
    (locks / "left-behind.json").write_text(json.dumps(stale))
    done = _bringup(project, "up", "--stack", "small")
    assert done.returncode == 0, done.stderr
    assert "removed a lock its process left (left-behind.json)" in done.stderr
    assert not (locks / "left-behind.json").exists()


def test_two_stacks_converge_side_by_side(tmp_path: Path) -> None:
    """Each stack has a blob store of its own: one's `up` never prunes what the other stages."""
    project = _project(tmp_path, one=_cluster("one", 40), two=_cluster("two", 40))
    for round_ in range(3):
        changed = {"one": _cluster("one", 40 + round_), "two": _cluster("two", 40 + round_)}
        _project(project, **changed)
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = list(pool.map(lambda s: _bringup(project, "up", "--stack", s), changed))
        assert [r.returncode for r in runs] == [0, 0], [r.stderr[-800:] for r in runs]
        assert len(list((project / "inventory/one/host_vars").iterdir())) == (40 + round_) * 4
        assert len(list((project / "inventory/two/host_vars").iterdir())) == (40 + round_) * 4


def test_a_file_deleted_or_edited_by_hand_is_drift_that_up_restores(tmp_path: Path) -> None:
    project = _project(tmp_path, small=_cluster("small", 2))
    assert _bringup(project, "up", "--stack", "small").returncode == 0
    before = _files(project, "small")
    host_vars = project / "inventory/small/host_vars"
    victim = sorted(host_vars.iterdir())[0]
    victim.unlink()
    with (project / "inventory/small/topology.conf").open("a") as handle:
        handle.write("SwitchName=by-hand Nodes=nobody\n")
    preview = _bringup(project, "preview", "--stack", "small")
    assert preview.returncode == 0, preview.stderr
    assert f"drift: inventory/small/host_vars/{victim.name}: missing on disk" in preview.stdout
    assert "drift: inventory/small/topology.conf: edited on disk" in preview.stdout
    assert "update   small-topology" in preview.stdout
    assert not victim.exists()  # a preview changes nothing
    up = _bringup(project, "up", "--stack", "small")
    assert up.returncode == 0, up.stderr
    assert "made right by this up" in up.stdout
    assert _files(project, "small") == before
    assert "drift" not in _bringup(project, "preview", "--stack", "small").stdout
    # a change of the declaration rewrites files too: that is an update, not drift
    (project / "stacks/Pulumi.small.yaml").write_text(
        yaml.safe_dump({"config": {"bringup:cluster": _cluster("small", 3)}})
    )
    grown = _bringup(project, "up", "--stack", "small")
    assert grown.returncode == 0, grown.stderr
    assert "drift" not in grown.stdout
    assert "made right" not in grown.stdout


def test_destroy_works_from_the_state_when_the_declaration_is_gone_or_broken(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, small=_cluster("small", 2), other=_cluster("other", 1))
    assert _bringup(project, "up", "--stack", "small").returncode == 0
    assert _bringup(project, "up", "--stack", "other").returncode == 0
    (project / "stacks/Pulumi.small.yaml").write_text("config: {bringup:cluster: [broken\n")
    broken = _bringup(project, "destroy", "--stack", "small")
    assert broken.returncode == 0, broken.stderr
    assert "destroying what its state holds" in broken.stderr
    assert not (project / "inventory/small").exists()
    (project / "stacks/Pulumi.other.yaml").unlink()
    gone = _bringup(project, "destroy", "--stack", "other")
    assert gone.returncode == 0, gone.stderr
    assert not (project / "inventory/other").exists()


def test_a_damaged_engine_config_is_rebuilt_with_the_states_salt(tmp_path: Path) -> None:
    project = _project(tmp_path, small=_cluster("small", 2))
    assert _bringup(project, "up", "--stack", "small").returncode == 0
    config = project / ".state/workspace/small/Pulumi.small.yaml"
    salt = yaml.safe_load(config.read_text())["encryptionsalt"]
    config.write_bytes(b"\xff\xfe not yaml: [")
    done = _bringup(project, "up", "--stack", "small")
    assert done.returncode == 0, done.stderr
    assert "│ same" in done.stdout
    assert yaml.safe_load(config.read_text())["encryptionsalt"] == salt


def test_a_failed_resource_is_one_line_and_the_log_is_kept(tmp_path: Path) -> None:
    project = _project(tmp_path, small=_cluster("small", 2))
    (project / "inventory/small").mkdir(parents=True)
    (project / "inventory/small/host_vars").write_text("a file where a folder goes\n")
    done = _bringup(project, "up", "--stack", "small")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "up small failed:"
    failed = [line for line in lines if line.startswith("  small-")]
    assert failed
    assert all("host-vars: [Errno" in line for line in failed), failed
    assert all("inventory/small/host_vars" in line for line in failed), failed
    log = Path(lines[-1].removeprefix("the engine's log: "))
    assert log.is_file()
    assert log.is_relative_to(project / ".state/logs")
    assert "Traceback" in log.read_text()  # the whole story is in the log, not on screen


def test_engine_logs_history_and_backups_stay_bounded(tmp_path: Path) -> None:
    from bringup.infra.engine import KEEP_CHECKPOINTS, KEEP_LOGS

    project = _project(tmp_path, small=_cluster("small", 1))
    for racks in range(1, 14):
        _project(project, small=_cluster("small", racks))
        assert _bringup(project, "up", "--stack", "small").returncode == 0
    backend = project / ".state/pulumi/.pulumi"
    history = {p.name.split(".")[0] for p in (backend / "history/bringup/small").iterdir()}
    backups = [p for p in (backend / "backups/bringup/small").iterdir() if p.suffix == ".json"]
    assert len(history) <= KEEP_CHECKPOINTS
    assert len(backups) <= KEEP_CHECKPOINTS
    assert len(list((project / ".state/pulumi-home/logs").iterdir())) <= KEEP_LOGS

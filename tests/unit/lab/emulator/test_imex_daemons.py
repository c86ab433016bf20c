"""nvidia-imex-ctl, the daemons (run as processes: log, pid file, SIGTERM) and the Xid line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bringup.lab.emulator import imex_ctl, xid_line
from bringup.parsers.fabricmanager import parse_fabricmanager_log
from bringup.parsers.imex import parse_imex_log, parse_imex_node_status
from bringup.parsers.xid import parse_xid_log

from .conftest import ENV, Profile, profile_of

Writer = Callable[[Profile], dict[str, str]]


@pytest.mark.parametrize("sku", ["gb200-nvl72", "gb300-nvl72"])
def test_imex_domain_status_round_trip(sku: str) -> None:
    profile = profile_of(sku)
    run = imex_ctl.main(["-N"], profile, ENV)
    status = parse_imex_node_status(run.stdout)
    peers = profile["nvlink_domain"]["imex_peers"]
    assert run.code == 0
    assert [n.address for n in status.nodes] == peers
    assert {n.status for n in status.nodes} == {"READY"}
    assert status.domain_state == "UP"
    assert status.healthy
    assert len(status.connectivity) == len(peers) ** 2
    assert status.timestamp == "1/20/2025 10:18:26.000"
    assert imex_ctl.main(["-q"], profile, ENV).stdout == "READY\n"


def test_unavailable_peer_degrades_the_domain() -> None:
    profile = profile_of("gb200-nvl72")
    peers = profile["nvlink_domain"]["imex_peers"]
    profile["nvlink_domain"]["imex_peers"][4] = {"address": peers[4], "state": "UNAVAILABLE"}
    profile["nvlink_domain"]["unavailable_peers"] = [peers[9]]
    status = parse_imex_node_status(imex_ctl.main(["-N"], profile, ENV).stdout)
    assert [n.index for n in status.nodes if n.status != "READY"] == [4, 9]
    assert status.domain_state == "DEGRADED"
    assert not status.healthy
    assert {(a, b) for a, b, _ in status.unconnected()} >= {(0, 4), (4, 0), (9, 9)}


def test_imex_ctl_without_a_running_daemon() -> None:
    profile = profile_of("gb200-nvl72")
    profile["services"]["nvidia-imex"] = "failed"
    for args in (["-N"], ["-q"]):
        run = imex_ctl.main(args, profile, ENV)
        assert run.code == 1
        assert run.stdout == ""
        assert "Connection refused" in run.stderr
    assert imex_ctl.main(["-N"], profile_of("hgx-h100"), ENV).code == 1  # no IMEX on HGX


def _start(command: str, env: dict[str, str], tmp_path: Path) -> subprocess.Popen[str]:
    full = {**os.environ, **env, "BRINGUP_LAB_LOG_DIR": str(tmp_path / "log"),
            "BRINGUP_LAB_RUN_DIR": str(tmp_path / "run")}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "bringup.lab.emulator", command, "-c", "/etc/ignored.cfg"],
        env=full,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("sku", "command", "log", "pid"),
    [
        ("hgx-h100", "nv-fabricmanager", "fabricmanager.log",
         "nvidia-fabricmanager/nv-fabricmanager.pid"),
        ("gb200-nvl72", "nvidia-imex", "nvidia-imex.log", "nvidia-imex/nvidia-imex.pid"),
        ("hgx-b200", "nv-hostengine", "nv-hostengine.log", "nvhostengine.pid"),
    ],
)  # fmt: skip
def test_daemon_runs_until_sigterm(
    sku: str, command: str, log: str, pid: str, write_profile: Writer, tmp_path: Path
) -> None:
    process = _start(command, write_profile(profile_of(sku)), tmp_path)
    try:
        _wait_for(tmp_path / "run" / pid)
        assert (tmp_path / "run" / pid).read_text().strip() == str(process.pid)
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not (tmp_path / "run" / pid).exists()
    text = (tmp_path / "log" / log).read_text()
    if command == "nv-fabricmanager":
        parsed = parse_fabricmanager_log(text)
        assert parsed.version == "570.172.08"
        assert parsed.topology == "DGX/HGX H100"
        assert len(parsed.nvswitches) == 4
        assert parsed.errors == ()
    elif command == "nvidia-imex":
        imex = parse_imex_log(text)
        assert imex.version == "570.172.08"
        assert imex.problems == ()
        assert imex.config["IMEX library communication bind port"] == "50000"


@pytest.mark.parametrize(
    ("sku", "service", "command", "log", "message"),
    [
        ("hgx-h100", "nvidia-fabricmanager", "nv-fabricmanager", "fabricmanager.log",
         "NV_WARN_NOTHING_TO_DO"),
        ("gb200-nvl72", "nvidia-imex", "nvidia-imex", "nvidia-imex.log", "failed"),
    ],
)  # fmt: skip
def test_failed_daemon_logs_and_exits_1(
    sku: str, service: str, command: str, log: str, message: str, write_profile: Writer,
    tmp_path: Path,
) -> None:  # fmt: skip
    profile = profile_of(sku)
    profile["services"][service] = "failed"
    process = _start(command, write_profile(profile), tmp_path)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 1
    assert message in stderr
    text = (tmp_path / "log" / log).read_text()
    parse = parse_fabricmanager_log if command == "nv-fabricmanager" else parse_imex_log
    parsed = parse(text)
    errors = parsed.errors if command == "nv-fabricmanager" else parsed.problems  # type: ignore[union-attr]
    assert [e.severity for e in errors] == ["ERROR"]
    assert message in errors[0].message
    assert not (tmp_path / "run").exists()


def test_xid_line_parses_back() -> None:
    lines = [
        xid_line({"gpu": 0, "xid": 79, "pci": "0000:18:00", "uptime": 1234.5}),
        xid_line({"xid": 48, "pci_bus_id": "00000000:3A:00.0", "pid": 4242, "name": "python3"}),
        xid_line({"xid": 63, "pci": "0000:9a:00", "uptime": 2000.25}),
    ]
    assert lines[0] == (
        "[ 1234.500000] NVRM: Xid (PCI:0000:18:00): 79, pid='<unknown>', name=<unknown>, "
        "GPU has fallen off the bus."
    )
    events = parse_xid_log("\n".join(lines) + "\n")
    assert [(e.xid, e.pci_address) for e in events] == [
        (79, "0000:18:00"), (48, "0000:3a:00"), (63, "0000:9a:00")
    ]  # fmt: skip
    assert events[0].uptime_seconds == 1234.5
    assert events[0].pid is None
    assert (events[1].pid, events[1].process) == (4242, "python3")
    assert events[2].message.startswith("Row Remapper: New row")

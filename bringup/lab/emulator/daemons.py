"""The long-running services: `nv-fabricmanager`, `nvidia-imex` and `nv-hostengine`.

Each stays in the foreground (the lab's init scripts background it with start-stop-daemon),
writes its startup lines to its log file, writes a pid file, and exits 0 on SIGTERM or SIGINT.
A service the profile marks `failed` logs its error and exits 1 at once. Paths: the log under
$BRINGUP_LAB_LOG_DIR (default /var/log), the pid file under $BRINGUP_LAB_RUN_DIR (default /run).
Arguments (-c config, --foreground, -n ...) are accepted and otherwise ignored.

Log lines follow fixtures/real/fabricmanager (the 'Fabric Manager Log initializing at:' line,
'[Mon DD YYYY HH:MM:SS] [LEVEL] [tid N] ...', the configuration dump, topology and NVSwitch
routing lines) and fixtures/real/imex (the IMEX startup and configuration dump). The fabric
manager's failure is the real 'request to query NVSwitch device information ... failed with
error:WARNING Nothing to do [NV_WARN_NOTHING_TO_DO]'; the lines after the IMEX configuration
dump and its failure text are not in a capture and approximate the daemon's.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from ._base import Env, driver_version, gpus, log_stamp, now, service_state
from .imex_ctl import peers

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import Profile

TOPOLOGY = {
    "ampere": ("DGX/HGX A100", "dgxa100_hgxa100", 6),
    "hopper": ("DGX/HGX H100", "dgxh100_hgxh100", 4),
    "blackwell": ("DGX/HGX B200", "dgxb200_hgxb200", 2),
    "blackwell-ultra": ("DGX/HGX B300", "dgxb300_hgxb300", 2),
}
FM_FAILURE = (
    "request to query NVSwitch device information from NVSwitch driver failed with "
    "error:WARNING Nothing to do [NV_WARN_NOTHING_TO_DO]"
)
IMEX_FAILURE = "failed to initialize the IMEX daemon: NvGpu library initialization failed"


def _init_stamp(stamp: datetime) -> str:
    """'9/18/2026 06:40:33.561': the 'Log initializing at' stamp of both daemons."""
    millis = stamp.microsecond // 1000
    return f"{stamp.month}/{stamp.day}/{stamp.year} {stamp:%H:%M:%S}.{millis:03d}"


def fabricmanager_lines(profile: Profile, stamp: datetime, tid: int, log_path: str) -> list[str]:
    """What nv-fabricmanager logs when it starts (ending with its error when it fails)."""
    at = f"{log_stamp(stamp)} [INFO] [tid {tid}]"
    lines = [
        f"Fabric Manager Log initializing at: {_init_stamp(stamp)}",
        f"{at} Fabric Manager version {driver_version(profile)} is running with the following "
        "configuration options",
        f"{at} Logging level = 4",
        f"{at} Logging file name/path = {log_path}",
        f"{at} Append to log file = 1",
        f"{at} Max Log file size = 1024 (MBs)",
        f"{at} Use Syslog file = 0",
        f"{at} Fabric Manager communication ports = 16000",
        f"{at} Fabric Mode = 0",
        f"{at} Fabric Mode Restart = 0",
        f"{at} FM Library communication bind interface = 127.0.0.1",
        f"{at} FM Library communication unix domain socket =",
        f"{at} FM Library communication port number = 6666",
        f"{at} Continue to run when facing failures = 0",
        f"{at} Option when facing GPU to NVSwitch NVLink failure = 0",
        f"{at} Option when facing NVSwitch to NVSwitch NVLink failure = 0",
        f"{at} Option when facing NVSwitch failure = 0",
        f"{at} Abort CUDA jobs when FM exits = 1",
    ]
    if service_state(profile, "nvidia-fabricmanager") == "failed":
        return [*lines, f"{log_stamp(stamp)} [ERROR] [tid {tid}] {FM_FAILURE}"]
    devices = gpus(profile)
    arch = str(devices[0].get("architecture")) if devices else "hopper"
    system, topology, switches = TOPOLOGY.get(arch, TOPOLOGY["hopper"])
    path = f"/usr/share/nvidia/nvswitch/{topology}_topology"
    lines += [
        f"{at} LMDB_LOG: Successfully initialized LMDB",
        f"{at} Connected to 1 node.",
        "",
        f"{at} Getting fabric node FM version info",
        f"{at} getting NVSwitch device information",
        f"{at} detected system topology is based on {system}",
        f"{at} fabric topology file {path} is parsed.",
        f"{at} number of devices specified in topology file NVSwitches: {switches}, "
        f"GPUs: {len(devices)}",
        f"{at} getting NVSwitch device information",
        f"{at} dumping all the detected NVSwitch information",
        *[_switch_line(profile, arch, n) for n in range(switches)],
        "",
        f"{at} number of GPU base board detected: 1",
    ]
    for n in range(switches):
        lines += [
            f"{at} start NVSwitch 0/{n} routing configuration",
            f"{at} completed NVSwitch 0/{n} routing configuration",
        ]
    lines.append(
        f"{at} Successfully configured all the available NVSwitches to route GPU NVLink traffic. "
        "NVLink Peer-to-Peer support will be enabled once the GPUs are successfully registered "
        "with the NVLink fabric."
    )
    for gpu in devices:
        lines.append(
            f"{at} added GPU with UUID {gpu['uuid']} based on NVLink Inband GPU probe request."
        )
    return lines


def _switch_line(profile: Profile, arch: str, n: int) -> str:
    digest = hashlib.sha256(f"{profile.get('node')}/nvswitch/{n}".encode()).hexdigest().upper()
    uuid = f"SWX-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    arch_type = {"ampere": 2, "hopper": 3}.get(arch, 4)
    return (
        f"  Index: {n:02d}  Physical Id: {n}  PCI Bus ID: 00000000:{0x83 + n:02X}:00.0  "
        f"Enabled Link Mask: ffffffff00000000  Arch Type: {arch_type}  UUID : {uuid}"
    )


def imex_lines(profile: Profile, stamp: datetime, tid: int, log_path: str) -> list[str]:
    """What nvidia-imex logs when it starts (ending with its error when it fails)."""
    at = f"{log_stamp(stamp)} [INFO] [tid {tid}]"
    nodes = peers(profile)
    lines = [
        f"IMEX Log initializing at: {_init_stamp(stamp)}",
        f"{at} IMEX version {driver_version(profile)} is running with the following "
        "configuration options:",
        f"{at} Logging level = 4",
        f"{at} Logging file name/path = {log_path}",
        f"{at} Append to log file = 1",
        f"{at} Max Log file size = 1024 (MBs)",
        f"{at} Use Syslog file = 0",
        f"{at} Authentication and Encryption enabled = 0",
        f"{at} IMEX Library communication bind interface = ",
        f"{at} IMEX library communication bind port = 50000",
    ]
    if service_state(profile, "nvidia-imex") == "failed":
        return [*lines, f"{log_stamp(stamp)} [ERROR] [tid {tid}] {IMEX_FAILURE}"]
    lines += [
        f"{at} Creating gRPC channels to all peers (nPeers = {len(nodes)}).",
        f"{at} GPU event successfully subscribed",
    ]
    for i, (address, state) in enumerate(nodes):
        if state == "READY":
            lines.append(
                f"{at} Connection established to node {i} with ip address {address}. "
                "Number of times connected: 1"
            )
    return lines


def hostengine_lines(profile: Profile, stamp: datetime, tid: int, log_path: str) -> list[str]:
    """What nv-hostengine logs when it starts."""
    return [
        f"{stamp:%Y-%m-%d %H:%M:%S}.{stamp.microsecond // 1000:03d} INFO  [{tid}:{tid}] "
        "Started host engine version 4.2.3 using port number: 5555"
    ]


Lines: TypeAlias = "Callable[[Profile, datetime, int, str], list[str]]"
# command -> (service name in the profile, log file, pid file, startup lines, failure on stderr)
DAEMONS: dict[str, tuple[str, str, str, Lines, str]] = {
    "nv-fabricmanager": (
        "nvidia-fabricmanager",
        "fabricmanager.log",
        "nvidia-fabricmanager/nv-fabricmanager.pid",
        fabricmanager_lines,
        FM_FAILURE,
    ),
    "nvidia-imex": (
        "nvidia-imex",
        "nvidia-imex.log",
        "nvidia-imex/nvidia-imex.pid",
        imex_lines,
        IMEX_FAILURE,
    ),
    "nv-hostengine": ("nvidia-dcgm", "nv-hostengine.log", "nvhostengine.pid", hostengine_lines, ""),
}


def run(command: str, args: Sequence[str], profile: Profile, env: Env) -> int:
    """Start daemon `command`: log, pid file, then wait for SIGTERM; 1 when it fails to start."""
    service, log_name, pid_name, make_lines, failure = DAEMONS[command]
    log_path = os.path.join(env.get("BRINGUP_LAB_LOG_DIR") or "/var/log", log_name)
    pid_path = os.path.join(env.get("BRINGUP_LAB_RUN_DIR") or "/run", pid_name)
    lines = make_lines(profile, now(env), os.getpid(), log_path)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write("\n".join(lines) + "\n")
    if service_state(profile, service) == "failed":
        sys.stderr.write(failure + "\n")
        return 1
    # Block the stop signals before the pid file exists, then wait for one: no window in which
    # a SIGTERM would be lost or kill the process without its clean-up.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    os.makedirs(os.path.dirname(pid_path), exist_ok=True)
    with open(pid_path, "w", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        if os.path.exists(pid_path):
            os.remove(pid_path)
    return 0

"""A real Slurm for the adapter's tests: munged, slurmctld and two slurmds from the staged build.

Everything runs on 127.0.0.1 with ports of its own, a munged of its own on a socket in the
cluster's folder, and a state folder of its own, so that it stands beside the lab's Slurm
(/run/munge, ports 6817/6818) without touching it. slurmctld insists that the host's name be
its SlurmctldHost, and a slurmd takes its node name from the host's name: each daemon runs in a
UTS namespace of its own (``unshare --uts``) under the name it needs. Each is the leader of a
process group of its own, and stopping the cluster ends those groups, helpers included.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from bringup.access import SchedulerAccess
from bringup.workspace import SlurmInstall

ROOT = Path(__file__).resolve().parents[3]
INSTALL = SlurmInstall(ROOT / ".tools")
NODES = ("n1", "n2")
MUNGED = Path("/usr/sbin/munged")


def _free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (bound then released: good enough for a test)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class SlurmCluster:
    """A running controller and its nodes, and the Access that reaches them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.access = SchedulerAccess.slurm(self.conf, INSTALL)

    def write_conf(self) -> None:
        """slurm.conf and cgroup.conf for two 1-CPU nodes in one partition."""
        controller, *ports = _free_ports(1 + len(NODES))
        f = self.folder
        nodes = [
            f"NodeName={n} NodeAddr=127.0.0.1 Port={p} CPUs=1 RealMemory=100"
            for n, p in zip(NODES, ports, strict=True)
        ]
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=adapter",
                    "SlurmctldHost=ctl(127.0.0.1)",
                    f"SlurmctldPort={controller}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={f}/munge.sock",
                    f"PluginDir={INSTALL.plugin_dir}",
                    f"StateSaveLocation={f}/ctld",
                    f"SlurmctldPidFile={f}/ctld/slurmctld.pid",
                    f"SlurmctldLogFile={f}/ctld/slurmctld.log",
                    f"SlurmdSpoolDir={f}/%n",
                    f"SlurmdPidFile={f}/%n/slurmd.pid",
                    f"SlurmdLogFile={f}/%n/slurmd.log",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SlurmdParameters=config_overrides",
                    "SelectType=select/cons_tres",
                    "MpiDefault=none",
                    # a node that registers with a valid configuration is idle, whatever came
                    # before (State= is left to its default: UNKNOWN until the node registers)
                    "ReturnToService=2",
                    *nodes,
                    "PartitionName=all Nodes=ALL Default=YES State=UP",
                    "",
                ]
            )
        )
        (f / "cgroup.conf").write_text("CgroupPlugin=disabled\n")
        for folder in ("ctld", *NODES):
            (f / folder).mkdir(exist_ok=True)

    def start(self) -> None:
        """munged, then slurmctld, then the slurmds; returns once every node is idle."""
        key = self.folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        f = self.folder
        self._spawn(
            "munged",
            [MUNGED, "-F", "-f", f"--socket={f}/munge.sock", f"--key-file={key}",
             f"--pid-file={f}/munged.pid", f"--log-file={f}/munged.log",
             f"--seed-file={f}/munged.seed"],
        )  # fmt: skip
        self._wait(lambda: (f / "munge.sock").exists(), "munged's socket")
        self._spawn("slurmctld", self._named("ctl", INSTALL.program("slurmctld"), "-D", "-i"))
        stepd = INSTALL.program("slurmstepd")
        for node in NODES:
            self._spawn(node, self._named(node, INSTALL.program("slurmd"), "-D", "-d", stepd))
        self.wait_idle()

    def wait_idle(self, drained: Sequence[str] = ()) -> None:
        """Wait until every node is idle and responding (and those `drained` drained): a
        resumed node that was drained responds again once its slurmd registered anew."""
        wanted = {n: ["IDLE", "DRAIN"] if n in drained else ["IDLE"] for n in NODES}
        self._wait(lambda: self.states() == wanted, f"nodes {wanted}")

    def stop_controller(self) -> None:
        """Stop slurmctld (the nodes keep running)."""
        self._end("slurmctld")

    def stop(self) -> None:
        """End every daemon this cluster started: nodes, controller, munged."""
        for name in reversed(list(self.processes)):
            self._end(name)

    def scontrol(self, *args: str) -> subprocess.CompletedProcess[str]:
        """scontrol as an operator runs it, beside the adapter."""
        return subprocess.run(
            [INSTALL.program("scontrol"), *args],
            env=INSTALL.env(self.conf),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def states(self) -> dict[str, list[str]]:
        """Each node's state flags, as scontrol reads them (empty when it cannot)."""
        shown = self.scontrol("--json", "show", "node", ",".join(NODES))
        if shown.returncode != 0:
            return {}
        return {n["name"]: n["state"] for n in json.loads(shown.stdout)["nodes"]}

    def sinfo(self) -> dict[str, tuple[str, str]]:
        """Each node's state and reason as sinfo prints them, the operator's own view."""
        shown = subprocess.run(
            [INSTALL.program("sinfo"), "-h", "-N", "-o", "%N|%T|%E"],
            env=INSTALL.env(self.conf),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        rows = [line.split("|", 2) for line in shown.stdout.splitlines()]
        return {node: (state, reason) for node, state, reason in rows}

    def logs(self) -> str:
        """The tail of every daemon's log, for a failure message."""
        paths = [self.folder / "munged.log", self.folder / "ctld" / "slurmctld.log"]
        paths += [self.folder / n / "slurmd.log" for n in NODES]
        return "\n".join(
            f"--- {p}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
            for p in paths
            if p.exists()
        )

    def _named(self, host: str, program: Path, *args: str | Path) -> list[str | Path]:
        """`program` run under the host name `host`, in a UTS namespace of its own."""
        script = 'hostname "$0" && exec "$@"'
        return ["unshare", "--uts", "sh", "-c", script, host, program, "-f", self.conf, *args]

    def _spawn(self, name: str, argv: list[str | Path]) -> None:
        log = (self.folder / f"{name}.out").open("wb")
        with log:
            self.processes[name] = subprocess.Popen(
                argv,
                env=INSTALL.env(self.conf),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: its helpers end with it
            )

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead:
                break
            time.sleep(0.3)
        outs = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
            for p in sorted(self.folder.glob("*.out"))
        )
        pytest.fail(f"Slurm: no {what} within {timeout:.0f} s\n{outs}\n{self.logs()}")

    def _end(self, name: str) -> None:
        """SIGTERM to the daemon's process group, SIGKILL after 15 s; reaped either way."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                continue
            break
        with suppress(ProcessLookupError):  # helpers (slurmscriptd) outliving the leader
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def slurm_cluster(folder: Path) -> Iterator[SlurmCluster]:
    """A Slurm of two idle nodes in `folder`, every daemon ended afterwards, whatever happened."""
    if not INSTALL.built():
        pytest.fail(f"Slurm is not built in {INSTALL.root}: run scripts/build-slurm")
    if os.geteuid() != 0:
        pytest.fail("the Slurm tests name each daemon's host in a namespace: run them as root")
    cluster = SlurmCluster(folder)
    cluster.write_conf()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

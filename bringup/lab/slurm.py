"""The lab's Slurm controller: munged and slurmctld on this host, for the slurmd of every node.

The nodes load Slurm's plugins from their package (``/usr/lib/slurm``); this host from the staged
build. One slurm.conf serves both (slurmctld logs an error for a node whose slurm.conf differs
from its own), so its PluginDir lists both folders, and each must exist on both sides: the
package's folder exists, empty, on this host, and the staged one is bound into each node at boot.

The controller sits at the lab's gateway, the host's address on the in-band management bridge,
which every node reaches. slurmctld checks that its host name is the one slurm.conf names
(``SlurmctldHost``), so it runs in a UTS namespace of its own named after the planned controller;
its network is the host's. The host's munged (MUNGE's default socket, the lab's key) serves both
slurmctld and the client tools run from the host; each node runs its own munged with the same
key, installed by the slurm_node role (one munged shared by several nodes breaks multi-node job
steps with MUNGE replay errors).

Everything lives in ``.lab/<stack>/slurm/``: the configuration the roles copy to the nodes (the
same files the host's tools read: ``SLURM_CONF=.lab/<stack>/slurm/slurm.conf``), the MUNGE key
(mode 0600, handed to the role as a file, never as a variable), the controller's state, logs and
pid files. `stop` ends both daemons, and those any other lab left on this host (found by their
command lines); `down` of the lab calls it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bringup.atomic import write_atomic
from bringup.lab.hosts import GPU_DEVICES
from bringup.lab.layout import LabLayout
from bringup.lab.system import LabError, alive, kill, processes, read_pid, tail
from bringup.plan import Plan
from bringup.render.slurm import SlurmSite, render_slurm_files
from bringup.workspace import SlurmInstall

PACKAGE_PLUGINS = Path("/usr/lib/slurm")
"""Where the nodes' slurm-smd package puts the plugins (Slurm's compiled-in PluginDir)."""
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
"""MUNGE's default socket, the one Slurm's auth/munge uses unless told otherwise."""
START_TIMEOUT = 60.0
"""Seconds slurmctld has to answer `scontrol ping` on a busy host."""
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class LabSlurm:
    """The Slurm controller of one lab, its files under `dir`."""

    dir: Path
    install: SlurmInstall

    @property
    def conf(self) -> Path:
        """slurm.conf, beside gres.conf, topology.conf and cgroup.conf."""
        return self.dir / "slurm.conf"

    @property
    def munge_key(self) -> Path:
        """The lab's MUNGE key (0600)."""
        return self.dir / "munge.key"

    def site(self, plan: Plan, layout: LabLayout) -> SlurmSite:
        """The cluster's Slurm as the lab runs it: the controller at the gateway, no cgroups in
        namespaces, the nodes' real CPU and memory overridden by the plan's, plugins from the
        nodes' package or, on this host, from the staged build."""
        address = _controller_address(layout)
        site = SlurmSite.of(plan.cluster)
        return dataclasses.replace(
            site,
            controller_address=address,
            plugin_dir=f"{PACKAGE_PLUGINS}:{self.install.plugin_dir}",
            state_dir=str(self.dir / "state"),
            # the controller's log and pid file in the lab's folder; a node's (/var/log/slurm,
            # /run/slurm) in its own root, since a node may not see the lab's folder (its /tmp
            # is its own)
            controller_log_dir=str(self.dir / "log"),
            controller_run_dir=str(self.dir / "run"),
            slurm_user="root",
            cgroup=False,
            config_overrides=True,
            gpu_device=f"{GPU_DEVICES}/nvidia",
            # Only the nodes that run jobs check themselves between jobs: each check costs about
            # a second of CPU (the emulated tools are Python), and 21 nodes checking every few
            # seconds would take this host's two cores. Idle nodes are checked by the Epilog of
            # each job and by `bringup health --node`.
            health_node_state="ALLOC,MIXED,CYCLE",
            # A drill's requeued job back within seconds: a short wait before it may start
            # again, and a main scheduling loop that looks at it soon after (a lab's queue is
            # short; a site's keeps Slurm's 60 s).
            requeue_wait_s=15,
            sched_interval_s=5,
        )

    def configure(self, plan: Plan, layout: LabLayout) -> SlurmSite:
        """Write the configuration and, once, the MUNGE key; returns the site rendered."""
        self.dir.mkdir(parents=True, exist_ok=True)
        site = self.site(plan, layout)
        for name, text in render_slurm_files(plan, site).items():
            write_atomic(self.dir / name, text.encode())
        # atomic: a write killed half-way leaves no short key that munged would refuse for good
        if not self.munge_key.exists():
            write_atomic(self.munge_key, secrets.token_bytes(1024), mode=0o600)
        for folder in ("state", "log", "run"):
            (self.dir / folder).mkdir(exist_ok=True)
        return site

    def start(self, site: SlurmSite) -> dict[str, int]:
        """Start munged and slurmctld; returns their pids once slurmctld answers."""
        if not self.install.built():
            raise LabError("Slurm is not built: run scripts/build-slurm (`make setup` does)")
        # Every folder of PluginDir must exist: on this host the package's stays empty, and
        # the staged plugins are found in the next one.
        PACKAGE_PLUGINS.mkdir(parents=True, exist_ok=True)
        munged = self._munged()
        controller = self._slurmctld(site.controller)
        self._wait_controller(controller)
        return {"munged": munged, "slurmctld": controller}

    def _munged(self) -> int:
        if MUNGE_SOCKET.exists() and _answers(MUNGE_SOCKET):
            raise LabError(
                f"a munged already serves {MUNGE_SOCKET}; the lab's Slurm needs its own "
                "(stop it, or `bringup lab down` when it is a lab's)"
            )
        MUNGE_SOCKET.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        pidfile = self.dir / "munged.pid"
        pidfile.unlink(missing_ok=True)
        subprocess.run(
            [
                "munged",
                f"--key-file={self.munge_key}",
                f"--socket={MUNGE_SOCKET}",
                f"--pid-file={pidfile}",
                f"--log-file={self.dir / 'munged.log'}",
                f"--seed-file={self.dir / 'munged.seed'}",
                "--force",
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        pid = _wait_pid(pidfile, START_TIMEOUT)
        if pid is None:
            raise LabError(f"munged did not start: {tail(self.dir / 'munged.log')}")
        return pid

    def _slurmctld(self, name: str) -> int:
        log = self.dir / "slurmctld.out"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    "unshare",
                    "--uts",
                    "sh",
                    "-c",
                    'hostname "$1" && exec "$2" -D -c -f "$3"',
                    "slurmctld",
                    name,
                    str(self.install.program("slurmctld")),
                    str(self.conf),
                ],
                env=self.install.env(self.conf),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        return process.pid

    @property
    def watch_pidfile(self) -> Path:
        """Where the lab's `bringup watch` writes its pid once it listens."""
        return self.dir / "run" / "watch.pid"

    def start_watch(self, stack: str, root: Path, stacks: Path, address: str, port: int) -> int:
        """Start `bringup watch` for the lab's stack at the gateway (the nodes' health checks
        report there); returns its pid once it answers."""
        log = self.dir / "log" / "watch.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        pidfile = self.watch_pidfile
        pidfile.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "bringup", "watch", "--stack", stack]
        argv += ["--stacks-dir", str(stacks), "--listen", address, "--port", str(port)]
        argv += ["--pidfile", str(pidfile)]
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=root,
                env={**os.environ, "BRINGUP_ROOT": str(root)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LabError(f"bringup watch exited: {tail(log)}")
            if read_pid(pidfile) == process.pid:
                return process.pid
            time.sleep(0.1)
        raise LabError(f"bringup watch did not listen within {START_TIMEOUT:.0f} s: {tail(log)}")

    def _wait_controller(self, pid: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not alive(pid):
                raise LabError(f"slurmctld exited: {tail(self.dir / 'log' / 'slurmctld.log')}")
            done = self.tool("scontrol", "ping", check=False)
            if done.returncode == 0 and "is UP" in done.stdout:
                return
            time.sleep(0.5)
        raise LabError(
            f"slurmctld did not answer within {START_TIMEOUT:.0f} s: "
            f"{tail(self.dir / 'log' / 'slurmctld.log')}"
        )

    def tool(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a client tool (sinfo, scontrol, srun, …) against this lab's controller."""
        done = subprocess.run(
            [str(self.install.program(name)), *args],
            env=self.install.env(self.conf),
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise LabError(
                f"{name} {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}"
            )
        return done

    def stop(self, recorded: Mapping[str, int] | None = None) -> list[int]:
        """End the munged and slurmctld of this lab (its records and pid files) and of any
        other lab on this host; returns the pids ended."""
        daemons = set(_lab_daemons())
        pids = set((recorded or {}).values())
        for name in ("run/slurmctld.pid", "munged.pid", "run/watch.pid"):
            pid = read_pid(self.dir / name)
            if pid is not None:
                pids.add(pid)
        pids = {p for p in pids if p in daemons} | daemons
        kill(sorted(pids), signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        kill(sorted(p for p in pids if alive(p)))
        with contextlib.suppress(OSError):  # the empty folder `start` made; never a full one
            PACKAGE_PLUGINS.rmdir()
        return sorted(pids)


def _controller_address(layout: LabLayout) -> str:
    """The host's address on the management bridge: the gateway every node reaches."""
    if not layout.gateways:
        raise LabError("the lab has no management gateway for the Slurm controller")
    return str(layout.gateways[0][1].ip)


def _answers(socket: Path) -> bool:
    """Whether a munged serves `socket`."""
    done = subprocess.run(
        ["munge", f"--socket={socket}", "-n"], capture_output=True, check=False, timeout=10
    )
    return done.returncode == 0


def _lab_daemons() -> list[int]:
    """munged, slurmctld and `bringup watch` processes of any lab on this host: their command
    lines name a ``.lab/<stack>/slurm/`` folder. A lab of another project may have left them,
    and only one munged can serve MUNGE's socket."""
    found = []
    for pid, program, args in processes():
        names_lab = any(b"/.lab/" in a and b"/slurm/" in a for a in args)
        watch = b"watch" in args and b"--pidfile" in args
        if names_lab and (program in ("munged", "slurmctld") or watch):
            found.append(pid)
    return found


def _wait_pid(pidfile: Path, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = read_pid(pidfile)
        if pid is not None and alive(pid):
            return pid
        time.sleep(0.05)
    return None

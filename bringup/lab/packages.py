"""The lab's package repository: the catalog's pinned packages, built with dpkg-deb.

Every package the catalog pins for a SKU (driver, fabric manager, IMEX, DCGM, DOCA-OFED, CUDA,
NVLSM, …) is built under its real name and version. The ones that carry a tool ship a wrapper that
runs the lab's emulator (the `bringup-lab-emulator` package, a dependency of all of them); the
daemons also ship an init script usable without systemd and their systemd unit. The others are
empty but installable, so that provisioning installs exactly what production installs.

Slurm is real: the packages SchedMD's Debian packaging names (``slurm-smd``, its client tools
and ``slurmd``) are built from the Slurm that scripts/build-slurm staged, so a node has no Slurm
until the slurm_node role installs it. MUNGE comes from Debian (the host's package, which lab
nodes see through their overlay, as they see sshd).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bringup.catalog import load_catalog
from bringup.lab.system import run
from bringup.workspace import SlurmInstall

EMULATOR_SOURCE = Path(__file__).resolve().parent / "emulator"  # stdlib-only package
EMULATOR_PACKAGE = "bringup-lab-emulator"
LAB_VERSION = "0.1.0-1"


@dataclass(frozen=True)
class Daemon:
    """A long-running service a package ships, run in the foreground by its init script."""

    service: str
    command: str
    args: str = ""
    folder: str = "/usr/bin"
    user: str = ""
    """Run as this user (its runtime folder, /run/<service>, is made for it); root when empty."""

    @property
    def program(self) -> str:
        """The daemon's absolute path."""
        return f"{self.folder}/{self.command}"


@dataclass(frozen=True)
class SlurmPackage:
    """A Slurm package: the staged paths it carries (relative to the staging tree)."""

    name: str
    paths: tuple[str, ...]
    depends: str
    daemons: tuple[Daemon, ...] = ()


SLURM_PACKAGES = (
    SlurmPackage("slurm-smd", ("usr/lib/slurm",), "libmunge2, libjson-c5, libyaml-0-2"),
    SlurmPackage("slurm-smd-client", ("usr/bin",), "slurm-smd (= {version})"),
    SlurmPackage(
        "slurm-smd-slurmd",
        ("usr/sbin/slurmd", "usr/sbin/slurmstepd"),
        "slurm-smd (= {version}), munge",
        (Daemon("slurmd", "slurmd", "-D", folder="/usr/sbin"),),
    ),
)
"""What a node running jobs needs (SchedMD's package names; slurmctld stays on the host)."""

MUNGE_LAB = Daemon("munge-lab", "munged", "--foreground", folder="/usr/sbin", user="munge")
"""The lab's own way to run Debian's munged on a node."""
MUNGE_LAB_PACKAGE = "bringup-lab-munge"
MUNGE_LAB_WHY = (
    "Lab nodes share the host's process table, and Debian's init script finds munged by\n"
    " name, so on a node it sees the host's munged (or another node's) and starts none;\n"
    " this one tracks its own pid file."
)


@dataclass(frozen=True)
class Contents:
    """What a package installs: tools (emulated commands), daemons, and init scripts that are
    emulated commands themselves (DOCA-OFED's openibd loads the stack and exits)."""

    tools: tuple[str, ...] = ()
    daemons: tuple[Daemon, ...] = field(default_factory=tuple)
    init_scripts: tuple[str, ...] = ()


# Package name prefix -> contents (the first match wins).
CONTENTS: tuple[tuple[str, Contents], ...] = (
    ("nvidia-driver-", Contents(tools=("nvidia-smi",))),
    (
        "nvidia-fabricmanager",
        Contents(
            daemons=(
                Daemon(
                    "nvidia-fabricmanager",
                    "nv-fabricmanager",
                    "-c /usr/share/nvidia/nvswitch/fabricmanager.cfg",
                ),
            )
        ),
    ),
    (
        "nvidia-imex",
        Contents(
            tools=("nvidia-imex-ctl",),
            daemons=(Daemon("nvidia-imex", "nvidia-imex", "-c /etc/nvidia-imex/config.cfg"),),
        ),
    ),
    (
        "datacenter-gpu-manager-4-core",
        Contents(tools=("dcgmi",), daemons=(Daemon("nvidia-dcgm", "nv-hostengine", "-n"),)),
    ),
    (
        "doca-ofed",
        Contents(
            tools=("ibstat", "ibstatus", "ibv_devinfo", "perfquery", "ib_write_bw"),
            init_scripts=("openibd",),
        ),
    ),
    ("nccl-tests", Contents(tools=("all_reduce_perf",))),
    ("nvbandwidth", Contents(tools=("nvbandwidth",))),
)
# Burn-in tools NVIDIA does not package: built from source in production, packaged by the lab.
EXTRA_PACKAGES = (("nccl-tests", "2.13.13-1"), ("nvbandwidth", "0.8-1"))


def pinned_packages() -> list[tuple[str, str]]:
    """Every (name, version) the catalog pins, and the lab's extra burn-in tools, sorted."""
    pins = {
        (p.name, p.version)
        for sku in load_catalog().skus.values()
        if sku.software is not None
        for p in sku.software.packages
    }
    return sorted(pins | set(EXTRA_PACKAGES))


def contents_of(name: str) -> Contents:
    """What the package called `name` installs in the lab."""
    return next((c for prefix, c in CONTENTS if name.startswith(prefix)), Contents())


def slurm_version(slurm: SlurmInstall) -> str:
    """The Debian version of the lab's Slurm packages."""
    return f"{slurm.version}-1"


def build_repository(repo: Path, slurm: SlurmInstall | None = None) -> list[Path]:
    """Build every package into `repo` and index it (``Packages``); returns the .deb files.

    With `slurm` (a built one), the Slurm packages too.
    """
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    work = repo / ".build"
    debs = [_build(work, repo, EMULATOR_PACKAGE, LAB_VERSION, Contents(), emulator=True)]
    for name, version in pinned_packages():
        debs.append(_build(work, repo, name, version, contents_of(name)))
    if slurm is not None:
        version = slurm_version(slurm)
        for package in SLURM_PACKAGES:
            description = (
                f"Slurm {slurm.version} ({package.name}) for the bringup lab\n"
                " Built from Slurm's release by scripts/build-slurm, under the name SchedMD's\n"
                " Debian packaging gives it."
            )
            debs.append(_build_staged(work, repo, package, version, slurm.root, description))
        munge = SlurmPackage(MUNGE_LAB_PACKAGE, (), "munge", (MUNGE_LAB,))
        description = "MUNGE's daemon for a bringup lab node\n " + MUNGE_LAB_WHY
        debs.append(_build_staged(work, repo, munge, LAB_VERSION, slurm.root, description))
    shutil.rmtree(work)
    (repo / "Packages").write_text(_scan(repo), encoding="utf-8")
    return debs


def _scan(repo: Path) -> str:
    result = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", "."],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _build(
    work: Path, repo: Path, name: str, version: str, contents: Contents, emulator: bool = False
) -> Path:
    root = work / f"{name}_{version}"
    (root / "DEBIAN").mkdir(parents=True)
    depends = "" if emulator else f"Depends: {EMULATOR_PACKAGE}, python3\n"
    _write(
        root / "DEBIAN/control",
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
        "Maintainer: bringup lab <lab@bringup.invalid>\nSection: misc\nPriority: optional\n"
        f"{depends}Description: {name} as emulated by the bringup lab\n"
        " Installs under the real package name and version; the commands it carries read\n"
        " the node's emulated hardware profile.\n",
    )
    if emulator:
        shutil.copytree(
            EMULATOR_SOURCE,
            root / "usr/lib/bringup-lab/emulator",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    for tool in contents.tools:
        _tool(root, tool)
    for daemon in contents.daemons:
        _tool(root, daemon.command)
        _write(root / f"etc/init.d/{daemon.service}", _init_script(daemon), mode=0o755)
        _write(root / f"lib/systemd/system/{daemon.service}.service", _unit(daemon))
    for script in contents.init_scripts:
        _tool(root, script, folder="etc/init.d")
    _write(root / f"usr/share/doc/{name}/README.bringup-lab", f"{name} {version}, emulated.\n")
    deb = repo / f"{name}_{version.replace(':', '%3a')}_amd64.deb"
    run(["dpkg-deb", "--build", "--root-owner-group", "-Zgzip", str(root), str(deb)])
    return deb


def _build_staged(
    work: Path, repo: Path, package: SlurmPackage, version: str, source: Path, description: str
) -> Path:
    """A package of `package.paths` taken from the tree `source`, and of its daemons' init
    scripts."""
    root = work / f"{package.name}_{version}"
    (root / "DEBIAN").mkdir(parents=True)
    _write(
        root / "DEBIAN/control",
        f"Package: {package.name}\nVersion: {version}\nArchitecture: amd64\n"
        "Maintainer: bringup lab <lab@bringup.invalid>\nSection: admin\nPriority: optional\n"
        f"Depends: {package.depends.format(version=version)}\n"
        f"Description: {description}\n",
    )
    for path in package.paths:
        staged, target = source / path, root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if staged.is_dir():
            shutil.copytree(staged, target, symlinks=True)
        else:
            shutil.copy2(staged, target)
    for daemon in package.daemons:
        _write(root / f"etc/init.d/{daemon.service}", _init_script(daemon), mode=0o755)
        _write(root / f"lib/systemd/system/{daemon.service}.service", _unit(daemon))
    deb = repo / f"{package.name}_{version}_amd64.deb"
    run(["dpkg-deb", "--build", "--root-owner-group", "-Zgzip", str(root), str(deb)])
    return deb


def _tool(root: Path, tool: str, folder: str = "usr/bin") -> None:
    _write(
        root / f"{folder}/{tool}",
        "#!/bin/sh\nPYTHONPATH=/usr/lib/bringup-lab "
        f'exec /usr/bin/python3 -m emulator {tool} "$@"\n',
        mode=0o755,
    )


def _init_script(d: Daemon) -> str:
    """An LSB init script driving the daemon with start-stop-daemon (no systemd needed)."""
    return f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          {d.service}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: {d.service} (bringup lab emulation)
### END INIT INFO
PIDFILE=/run/{d.service}.pid
DAEMON={d.program}
case "$1" in
  start)
    start-stop-daemon --status --pidfile "$PIDFILE" && exit 0
{_runtime(d)}    start-stop-daemon --start --background --make-pidfile --pidfile "$PIDFILE" \\
      {f"--chuid {d.user} " if d.user else ""}--startas "$DAEMON" -- {d.args}
    sleep 0.3
    start-stop-daemon --status --pidfile "$PIDFILE" ;;
  stop)
    start-stop-daemon --stop --retry 5 --pidfile "$PIDFILE" --remove-pidfile; exit 0 ;;
  restart|force-reload)
    "$0" stop; "$0" start ;;
  status)
    start-stop-daemon --status --pidfile "$PIDFILE" ;;
  *)
    echo "usage: $0 {{start|stop|restart|status}}" >&2; exit 3 ;;
esac
"""


def _runtime(d: Daemon) -> str:
    if not d.user:
        return ""
    folder = d.command.removesuffix("d")  # munged -> /run/munge, as the daemon expects
    return f"    install -d -o {d.user} -g {d.user} -m 0755 /run/{folder}\n"


def _unit(d: Daemon) -> str:
    return (
        f"[Unit]\nDescription={d.service} (bringup lab emulation)\n\n"
        f"[Service]\nExecStart={d.program} {d.args}\nRestart=on-failure\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)

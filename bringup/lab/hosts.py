"""Lab hosts: a network namespace, an overlay root over the host's /, a hostname and sshd.

Each node has an anchor process (``sleep infinity``, chrooted into the node's root) that holds a
private mount namespace and a UTS namespace inside the node's network namespace. Everything the
node mounts lives in that mount namespace, so it disappears with the node's processes, even after
a crash; ``down`` only has to kill processes and delete namespaces and bridges. An IPoIB port's
netdev is a veth, which has no ``mode`` in sysfs: the boot lays an overlay over its sysfs folder,
whose live attributes read through and whose ``mode`` (datagram until the node's openibd or a
role writes it) lives in the node's /run.

Boot is a sequence of steps, and each step waits until what the next one needs is there, read
from the host through ``/proc/<anchor>/root``: the anchor is chrooted into the node's root before
anything enters it, and sshd listens before `boot` returns. On a loaded host either can take a
while after the command that started it has returned. A step that does not get there in time
raises LabError naming the node, the step and what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from bringup.lab.emulator.hardware import Profile
from bringup.lab.layout import LabLayout, LabNode
from bringup.lab.profile import PROFILE_PATH
from bringup.lab.system import LabError, alive, in_node, ip, kill, netns_pids, read_pid, run

REPO_MOUNT = "/srv/bringup-lab/repo"
SHARED_MOUNT = "/srv/bringup-lab/shared"
"""Where every node of a lab sees the lab's one shared folder (a training job's checkpoints)."""
GPU_DEVICES = "/run/bringup-lab/dev"
"""Where a node's GPU device nodes are: its /dev is the host's, its /run its own."""
SSHD_CONFIG = "etc/ssh/sshd_bringup_config"
SSHD_PID = "run/sshd.pid"
ANCHOR_TIMEOUT = 30.0
"""Seconds the boot script has to mount the node's root and chroot the anchor into it."""
SSHD_TIMEOUT = 30.0
"""Seconds sshd has to listen (it writes its pid file once it does)."""
SSHD_ATTEMPTS = 3
"""Starts of sshd before boot gives up on a node whose sshd exits at once."""
_POLL = 0.005  # seconds between two looks at /proc: each costs a few syscalls

_BOOT = """set -e
hostname "$NODE"
mount -t overlay overlay -o "lowerdir=/,upperdir=$DIR/upper,workdir=$DIR/work" "$DIR/root"
R="$DIR/root"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
for n in $IPOIB; do
  d="$R/sys/devices/virtual/net/$n"
  o="$R/run/bringup-lab/ipoib/$n"
  mkdir -p "$o/upper" "$o/work"
  echo datagram > "$o/upper/mode"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$o/upper,workdir=$o/work" "$d"
done
mkdir -p "$R/run/sshd" "$R$REPO_MOUNT" "$R$GPU_DEVICES"
if [ -n "$SLURM_PLUGINS" ]; then
  mkdir -p "$R$SLURM_PLUGINS"
  mount --bind "$SLURM_PLUGINS" "$R$SLURM_PLUGINS"
  mount -o remount,bind,ro "$R$SLURM_PLUGINS"
fi
i=0
while [ "$i" -lt "$GPUS" ]; do
  mknod -m 666 "$R$GPU_DEVICES/nvidia$i" c 195 "$i"
  i=$((i + 1))
done
mount --bind "$REPO" "$R$REPO_MOUNT"
mount -o remount,bind,ro "$R$REPO_MOUNT"
if [ -n "$PROJECT" ]; then
  mkdir -p "$R$PROJECT"
  mount --bind "$PROJECT" "$R$PROJECT"
fi
if [ -n "$SHARED" ]; then
  mkdir -p "$R$SHARED_MOUNT"
  mount --bind "$SHARED" "$R$SHARED_MOUNT"
fi
echo $$ > "$DIR/anchor.pid"
exec chroot "$R" /bin/sleep infinity
"""


def node_dir(lab: Path, node: str) -> Path:
    """The folder holding a node's upper layer, overlay work dir and mount point."""
    return lab / "nodes" / node


def prepare_root(
    lab: Path, node: LabNode, layout: LabLayout, profile: Profile, public_key: str
) -> str:
    """Write the node's own files into its upper layer; returns its SSH host public key."""
    base = node_dir(lab, node.name)
    for sub in ("upper", "work", "root"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    upper = base / "upper"
    _write(upper / "etc/hostname", f"{node.name}\n")
    hosts = "127.0.0.1 localhost\n" + "".join(f"{n.management.ip} {n.name}\n" for n in layout.nodes)
    _write(upper / "etc/hosts", hosts)
    text = json.dumps(profile, indent=1, sort_keys=True) + "\n"
    _write(upper / PROFILE_PATH, text)
    _write(base / "profile.healthy.json", text)  # what `heal` restores
    _mask_host_apt_sources(upper)
    _write(
        upper / "etc/apt/sources.list.d/bringup-lab.list",
        f"deb [trusted=yes] file:{REPO_MOUNT} ./\n",
    )
    _fresh_home(upper / "root")
    ssh = upper / "root/.ssh"
    ssh.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(ssh / "authorized_keys", public_key, mode=0o600)
    key = upper / "etc/ssh/ssh_host_ed25519_key"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node.name, "-f", str(key)])
    _write(upper / SSHD_CONFIG, _sshd_config(node))
    _write(upper / "var/log/kern.log", "", keep=True)
    return (key.parent / "ssh_host_ed25519_key.pub").read_text().split(" ")[1]


def _fresh_home(home: Path) -> None:
    """Give the node root's home of a freshly installed system, not the host's.

    The upper layer's folder is made opaque, so the host's dotfiles (a shell profile that starts
    tool managers, say) stay out of every SSH session; the node gets Debian's skeleton files.
    """
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.setxattr(home, "trusted.overlay.opaque", b"y")
    for name in (".bashrc", ".profile"):
        skeleton = Path("/etc/skel") / name
        if skeleton.exists() and not (home / name).exists():
            shutil.copyfile(skeleton, home / name)


def _mask_host_apt_sources(upper: Path) -> None:
    """Hide the host's apt sources from the node (empty files in the upper layer).

    A node reaches no mirror, so with the host's sources `apt-get update` fails; the node sees
    only the lab's repository and whatever provisioning configures.
    """
    masked = [Path("/etc/apt/sources.list")]
    masked += sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    masked += sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in masked:
        if path.exists():
            _write(upper / path.relative_to("/"), "")


def _sshd_config(node: LabNode) -> str:
    return (
        f"ListenAddress {node.management.ip}\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "PidFile /run/sshd.pid\n"
        "AcceptEnv LANG LC_*\n"
        "Subsystem sftp internal-sftp\n"
    )


def _write(path: Path, text: str, mode: int = 0o644, keep: bool = False) -> None:
    if keep and path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def create_netns(node: LabNode) -> None:
    """The node's network namespace, its NICs as veths to their bridges, with addresses."""
    ip("netns", "add", node.netns)
    ip("-n", node.netns, "link", "set", "lo", "up")
    for nic in node.nics:
        ip(
            "link",
            "add",
            nic.host_end,
            "type",
            "veth",
            "peer",
            "name",
            nic.netdev,
            "netns",
            node.netns,
        )
        ip("link", "set", nic.host_end, "alias", f"{nic.cable} -> {nic.leaf}:{nic.leaf_port}")
        ip("link", "set", nic.host_end, "master", nic.bridge, "up")
        ip("-n", node.netns, "addr", "add", str(nic.address), "dev", nic.netdev)
        ip("-n", node.netns, "link", "set", nic.netdev, "up")


def boot(
    lab: Path,
    repo: Path,
    node: LabNode,
    log: Path,
    gpus: int = 0,
    slurm_plugins: Path | None = None,
    project: Path | None = None,
    shared: Path | None = None,
) -> int:
    """Start the node's anchor process and sshd; returns the anchor's pid once sshd listens.

    The node's `gpus` get device nodes (major 195, as the driver makes them) in its /run, where
    the lab's gres.conf points Slurm. `slurm_plugins`, the host's staged Slurm plugins, is seen
    at its own path on the node, read-only, wherever the checkout is (a node's /tmp is its own):
    the lab's one slurm.conf lists it in PluginDir, whose every folder must exist.
    `project`, the checkout, is seen at its own path too, for the health check and the jobs
    that run bringup on the node; `shared`, a folder of the lab's, is every node's
    :data:`SHARED_MOUNT`, the one place all nodes write to and read from alike.
    """
    base = node_dir(lab, node.name)
    pidfile = base / "anchor.pid"
    pidfile.unlink(missing_ok=True)
    env = {
        "NODE": node.name,
        "DIR": str(base),
        "REPO": str(repo),
        "REPO_MOUNT": REPO_MOUNT,
        "GPU_DEVICES": GPU_DEVICES,
        "GPUS": str(gpus),
        "SLURM_PLUGINS": str(slurm_plugins or ""),
        "PROJECT": str(project or ""),
        "SHARED": str(shared or ""),
        "SHARED_MOUNT": SHARED_MOUNT,
        "IPOIB": " ".join(nic.netdev for nic in node.nics if nic.ipoib),
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    }
    with log.open("ab") as out:
        script = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                node.netns,
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "--fork",
                "sh",
                "-c",
                _BOOT,
            ],
            env=env,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    anchor = _wait_anchor(script, pidfile, node.name, log)
    start_sshd(anchor, node.name)
    return anchor


def _wait_anchor(script: subprocess.Popen[bytes], pidfile: Path, node: str, log: Path) -> int:
    """The anchor's pid, once it runs chrooted in the node's root.

    The boot script writes the pid file just before it execs chroot: until the anchor runs
    `sleep`, its root is still the host's, and a command entering it would run on the host's
    files (where the node's sshd config does not exist).
    """
    deadline = time.monotonic() + ANCHOR_TIMEOUT
    while True:
        pid = read_pid(pidfile)
        missing = f"no {pidfile.name}" if pid is None else _anchor_missing(pid)
        if pid is not None and not missing:
            return pid
        if script.poll() is not None:
            raise LabError(
                f"node {node}: boot step 'anchor': the boot script exited ({script.returncode}), "
                f"{missing}: {_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise LabError(
                f"node {node}: boot step 'anchor': {missing} after {ANCHOR_TIMEOUT:.0f} s: "
                f"{_tail(log)}"
            )
        time.sleep(_POLL)


def _anchor_missing(pid: int) -> str:
    """What anchor `pid` still lacks to be entered ('' when nothing)."""
    if not alive(pid):
        return f"anchor {pid} exited"
    if _comm(pid) != "sleep":
        return f"anchor {pid} not chrooted into the node's root yet (it runs {_comm(pid)!r})"
    if not _in_root(pid, SSHD_CONFIG).exists():
        return f"/{SSHD_CONFIG} missing from the node's root (anchor {pid})"
    return ""


def _in_root(anchor: int, path: str) -> Path:
    """`path` (relative to the node's root) as the host reaches it through the anchor."""
    return Path(f"/proc/{anchor}/root") / path


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip()
    except OSError:
        return ""


def start_sshd(anchor: int, node: str) -> None:
    """Start sshd inside the node; returns once it listens.

    sshd runs in the foreground (-D) as a process of its own session, so that an sshd that exits
    at once is seen exiting, and is started again, at most SSHD_ATTEMPTS times. It listens once
    its pid file exists: sshd writes it after binding the node's address.
    """
    log = _in_root(anchor, "var/log/sshd.log")
    problem = ""
    for _ in range(SSHD_ATTEMPTS):
        try:
            out = log.open("ab")  # sshd's own complaints land beside what it logs with -E
        except OSError as error:
            raise LabError(
                f"node {node}: boot step 'sshd': anchor {anchor} gone ({error})"
            ) from None
        with out:
            sshd = subprocess.Popen(
                ["nsenter", "-t", str(anchor), "-n", "-m", "-u", "-r", "-w",
                 "/usr/sbin/sshd", "-D", "-f", f"/{SSHD_CONFIG}", "-E", "/var/log/sshd.log"],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        problem = _wait_sshd(anchor, sshd)
        if not problem:
            return
    raise LabError(
        f"node {node}: boot step 'sshd' ({SSHD_ATTEMPTS} attempts): {problem}; "
        f"/var/log/sshd.log: {_tail(log, 1000)}"
    )


def _wait_sshd(anchor: int, sshd: subprocess.Popen[bytes]) -> str:
    """'' once `sshd` listens, else what went wrong (the process is gone then)."""
    deadline = time.monotonic() + SSHD_TIMEOUT
    while time.monotonic() < deadline:
        if sshd_running(anchor):
            return ""
        if sshd.poll() is not None:
            return f"sshd exited ({sshd.returncode}) before it listened"
        time.sleep(_POLL)
    sshd.kill()
    sshd.wait()
    return f"sshd wrote no /{SSHD_PID} within {SSHD_TIMEOUT:.0f} s"


def stop_sshd(anchor: int, netns: str) -> None:
    """Stop the node's sshd and drop its open sessions (multiplexed ones included), leaving
    the node itself up: the 'unreachable' fault."""
    in_node(anchor, ["sh", "-c", "kill $(cat /run/sshd.pid); rm -f /run/sshd.pid"], check=False)
    sessions = [p for p in netns_pids(netns) if _comm(p) == "sshd"]
    kill(sessions)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def sshd_running(anchor: int) -> bool:
    """Whether the node's sshd is alive (its pid file names a live process)."""
    pid = read_pid(_in_root(anchor, SSHD_PID))
    return pid is not None and alive(pid)


def remove_node_files(lab: Path, node: str) -> None:
    """Delete a node's layers (after its processes are gone)."""
    shutil.rmtree(node_dir(lab, node), ignore_errors=True)

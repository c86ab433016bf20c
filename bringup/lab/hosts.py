"""Lab hosts: a network namespace, an overlay root over the host's /, a hostname and sshd.

Each node has an anchor process (``sleep infinity``, chrooted into the node's root) that holds a
private mount namespace and a UTS namespace inside the node's network namespace. Everything the
node mounts lives in that mount namespace, so it disappears with the node's processes, even after
a crash; ``down`` only has to kill processes and delete namespaces and bridges.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bringup.lab.layout import LabLayout, LabNode
from bringup.lab.profile import PROFILE_PATH
from bringup.lab.system import LabError, alive, in_node, ip, kill, netns_pids, run

REPO_MOUNT = "/srv/bringup-lab/repo"
SSHD_CONFIG = "etc/ssh/sshd_bringup_config"

_BOOT = """set -e
hostname "$NODE"
mount -t overlay overlay -o "lowerdir=/,upperdir=$DIR/upper,workdir=$DIR/work" "$DIR/root"
R="$DIR/root"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mkdir -p "$R/run/sshd" "$R$REPO_MOUNT"
mount --bind "$REPO" "$R$REPO_MOUNT"
mount -o remount,bind,ro "$R$REPO_MOUNT"
echo $$ > "$DIR/anchor.pid"
exec chroot "$R" /bin/sleep infinity
"""


def node_dir(lab: Path, node: str) -> Path:
    """The folder holding a node's upper layer, overlay work dir and mount point."""
    return lab / "nodes" / node


def prepare_root(
    lab: Path, node: LabNode, layout: LabLayout, profile: dict[str, Any], public_key: str
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


def boot(lab: Path, repo: Path, node: LabNode, log: Path) -> int:
    """Start the node's anchor process and sshd; returns the anchor's pid."""
    base = node_dir(lab, node.name)
    pidfile = base / "anchor.pid"
    pidfile.unlink(missing_ok=True)
    env = {
        "NODE": node.name,
        "DIR": str(base),
        "REPO": str(repo),
        "REPO_MOUNT": REPO_MOUNT,
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    }
    with log.open("ab") as out:
        subprocess.Popen(
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
    anchor = _wait_pid(pidfile, node.name, log)
    start_sshd(anchor)
    return anchor


def start_sshd(anchor: int) -> None:
    """Start sshd inside the node (it daemonizes and writes /run/sshd.pid there)."""
    in_node(anchor, ["/usr/sbin/sshd", "-f", f"/{SSHD_CONFIG}", "-E", "/var/log/sshd.log"])


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
    """Whether the node's sshd is alive."""
    out = in_node(
        anchor,
        ["sh", "-c", "kill -0 $(cat /run/sshd.pid 2>/dev/null) 2>/dev/null && echo up"],
        check=False,
    )
    return out.strip() == "up"


def _wait_pid(pidfile: Path, node: str, log: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pidfile.exists():
            text = pidfile.read_text().strip()
            if text.isdigit() and alive(int(text)):
                return int(text)
        time.sleep(0.02)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise LabError(f"node {node} did not start within {timeout:.0f} s: {tail}")


def remove_node_files(lab: Path, node: str) -> None:
    """Delete a node's layers (after its processes are gone)."""
    shutil.rmtree(node_dir(lab, node), ignore_errors=True)

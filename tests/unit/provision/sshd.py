"""A real sshd on a loopback port, started when a test says so: a host that refuses connections
until then, and accepts them after."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from bringup.access import Access

SSHD = Path("/usr/sbin/sshd")


class Sshd:
    """An sshd for root on 127.0.0.1:`port` with a throwaway host key and client key.

    Nothing listens on the port until `start`. sshd insists on /run/sshd when it runs as root,
    so it runs in a mount namespace of its own with a fresh /run: the machine's stays untouched.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        for key in ("host_key", "client_key"):
            keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)]
            subprocess.run(keygen, check=True)
        (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
        host_key = " ".join((folder / "host_key.pub").read_text().split()[:2])
        (folder / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_key}\n")
        (folder / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1:{self.port}\n"
            f"HostKey {folder / 'host_key'}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
            "PidFile none\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "LogLevel ERROR\n"
            # many hosts of one test may stand behind this one sshd
            "MaxStartups 100\n"
        )

    def access(self) -> Access:
        """How Ansible reaches it: root, the client key, strict host-key checking."""
        return Access(
            private_key=self.folder / "client_key", known_hosts=self.folder / "known_hosts"
        )

    def host(self) -> dict[str, object]:
        """Inventory variables of a host behind this sshd."""
        return {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_connection": "ssh",
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def start(self) -> None:
        """Start sshd; return once it accepts connections."""
        script = (
            "mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && "
            f"exec {SSHD} -D -e -f {self.folder / 'sshd_config'}"
        )
        with (self.folder / "sshd.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"sshd on port {self.port} exited with {self.process.returncode}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd on port {self.port}: not accepting connections after 10 s")

    def stop(self) -> None:
        """Stop sshd (and with it the sessions it serves)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port

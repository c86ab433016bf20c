"""Shared helpers of the lab tests: SSH into a node the way Ansible and testinfra do."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ssh(
    known_hosts: Path, key: Path, address: str, command: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `command` on a lab node over real SSH, strict host-key checking on."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", "ConnectTimeout=5", "-o", f"UserKnownHostsFile={known_hosts}"]
    argv += ["-i", str(key), f"root@{address}", command]
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=300)

"""``python -m bringup.provision``: one run_playbook in a process of its own, JSON in and out.

The Provisioning resource runs its playbook this way: inside Pulumi's dynamic-provider process
(a gRPC server with its threads and descriptors) ansible-runner's pexpect child does not start
reliably, while a fresh process always gives it a clean terminal and environment.

Input (stdin): {"playbook", "inventory", "private_data_dir", "hosts", "private_key",
"known_hosts", "extra_vars"}. Output (stdout): {"status", "rc", "artifacts", "hosts": {host:
{"status", "ok", "changed", "failed_task", "message"}}}.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from bringup.provision.runner import SshSettings, run_playbook


def main() -> None:
    """Read one request from stdin, run it, print the result."""
    request = json.load(sys.stdin)
    key, known = request.get("private_key"), request.get("known_hosts")
    result = run_playbook(
        Path(request["playbook"]),
        inventory=Path(request["inventory"]),
        private_data_dir=Path(request["private_data_dir"]),
        hosts=request.get("hosts"),
        ssh=SshSettings(Path(key) if key else None, Path(known) if known else None),
        extra_vars=request.get("extra_vars") or {},
    )
    hosts = {h: asdict(r) for h, r in result.hosts.items()}
    out = {
        "status": result.status,
        "rc": result.rc,
        "artifacts": str(result.artifacts),
        "hosts": hosts,
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

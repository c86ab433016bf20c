"""``python -m bringup.admit``: one admission run in a process of its own, JSON in and out.

The Admission resource runs its rack this way, for the reason the Provisioning resource does
(ansible-runner and pytest want a clean process, not Pulumi's provider server).

Input (stdin): {"root", "stack", "hosts", "inventory", "domains", "policy", "dcgm_level",
"burn_in", "batch", "ledger" (optional: a SQLite path in place of the default ledger)}.
Output (stdout): `bringup.admit.command.result_json` of the run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bringup.admit.admission import AdmissionRequest, admit
from bringup.admit.command import open_ledger, result_json
from bringup.admit.fabric import lab_far_end
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy
from bringup.provision.runner import lab_settings


def main() -> None:
    """Read one request from stdin, judge its hosts, print the verdicts."""
    data = json.load(sys.stdin)
    root = Path(data["root"])
    stack = data["stack"]
    ssh, extra_vars = lab_settings(root, stack)
    lab = root / ".lab" / stack
    request = AdmissionRequest(
        stack=stack,
        hosts=tuple(data["hosts"]),
        inventory=root / data["inventory"],
        domains={d: list(m) for d, m in data.get("domains", {}).items()},
        policy=DomainPolicy.parse(data.get("policy", "unit")),
        dcgm_level=int(data.get("dcgm_level", 1)),
        burn_in=bool(data.get("burn_in", True)),
        batch=int(data.get("batch", 64)),
        ssh=ssh,
        ssh_config=lab / "ssh" / "config" if (lab / "ssh" / "config").exists() else None,
        extra_vars=extra_vars,
    )
    far_end = lab_far_end() if (lab / "state.json").exists() else None
    path = data.get("ledger")
    with Ledger.open(path=Path(path)) if path else open_ledger(root) as ledger:
        result = admit(request, ledger, root / ".state" / "admission" / stack, far_end=far_end)
    json.dump(result_json(result), sys.stdout)


if __name__ == "__main__":
    main()

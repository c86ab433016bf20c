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
from bringup.admit.command import access, open_ledger, result_json
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy


def main() -> None:
    """Read one request from stdin, judge its hosts, print the verdicts."""
    data = json.load(sys.stdin)
    root = Path(data["root"])
    stack = data["stack"]
    reach = access(root, stack)
    request = AdmissionRequest(
        stack=stack,
        hosts=tuple(data["hosts"]),
        inventory=root / data["inventory"],
        domains={d: list(m) for d, m in data.get("domains", {}).items()},
        policy=DomainPolicy.parse(data.get("policy", "unit")),
        dcgm_level=int(data.get("dcgm_level", 1)),
        burn_in=bool(data.get("burn_in", True)),
        batch=int(data.get("batch", 64)),
        ssh=reach.ssh,
        ssh_config=reach.ssh_config,
        extra_vars=reach.extra_vars,
    )
    path = data.get("ledger")
    with Ledger.open(path=Path(path)) if path else open_ledger(root) as ledger:
        work = root / ".state" / "admission" / stack
        result = admit(request, ledger, work, far_end=reach.far_end)
    json.dump(result_json(result), sys.stdout)


if __name__ == "__main__":
    main()

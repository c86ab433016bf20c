"""``python -m bringup.provision``: one playbook run in a process of its own, JSON in and out.

Input (stdin): a :class:`~bringup.provision.runner.ProvisionRequest` as JSON. Output (stdout):
the :class:`~bringup.provision.runner.ProvisionResult` as JSON. See `runner.run_in_process`.
"""

from __future__ import annotations

import sys

from bringup.provision.runner import ProvisionRequest, run_playbook


def main() -> None:
    """Read one request from stdin, run it, print the result."""
    request = ProvisionRequest.from_json(sys.stdin.read())
    sys.stdout.write(run_playbook(request).to_json())


if __name__ == "__main__":
    main()

"""``python -m bringup.admit``: one admission run in a process of its own, JSON in and out.

The Admission resource runs its rack this way, for the reason the Provisioning resource does
(ansible-runner and pytest want a clean process, not Pulumi's provider server).

Input (stdin): an :class:`~bringup.admit.admission.AdmissionCall` as JSON (the request and the
SQLite ledger to use unless BRINGUP_LEDGER_URL names a PostgreSQL one). Output (stdout): the
:class:`~bringup.admit.admission.AdmissionResult` as JSON.
"""

from __future__ import annotations

import os
import sys

from bringup.admit.admission import AdmissionCall, admit
from bringup.admit.ledger import Ledger
from bringup.admit.prepare import LEDGER_URL_VARIABLE


def main() -> None:
    """Read one call from stdin, judge its hosts, print the verdicts."""
    call = AdmissionCall.from_json(sys.stdin.read())
    url = os.environ.get(LEDGER_URL_VARIABLE) or None
    with Ledger.open(url, path=call.ledger) as ledger:
        result = admit(call.request, ledger)
    sys.stdout.write(result.to_json())


if __name__ == "__main__":
    main()

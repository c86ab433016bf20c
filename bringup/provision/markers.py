"""What each node says it was converged to: the record the `provisioned` role leaves on it.

The engine's state remembers that a rack was converged; a node that was re-imaged, replaced or
recreated (a lab brought down and up again) has no memory of it. Before an `up` that provisions,
bringup reads every node's record in one round of SSH sessions, all nodes at once, and compares
it with what the plan would converge the node to now (:func:`stale`): a node without a record,
with a record of other inputs, or whose record names another machine is converged again, and
the admission that follows judges it again.

>>> stale({"n1": Record("a:b", "m1", "m1"), "n2": Record(None, None, "m2")}, {"n1": "a:b",
...     "n2": "a:b"})
{'n2': 'no record of a converge on the node'}
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bringup.access import Access

PATH = "/var/lib/bringup/provisioned.json"
"""Where the role `provisioned` keeps the record (its default provisioned_path)."""
UNREACHABLE = 255  # ssh's own exit status
_SPLIT = "@@bringup:machine"


@dataclass(frozen=True)
class Record:
    """What a node holds: the inputs it was converged to and the machine it was written on, and
    the machine it is now (None when the node could not be reached)."""

    inputs: str | None
    machine: str | None
    machine_now: str | None
    reachable: bool = True
    message: str = ""


def read_records(
    addresses: Mapping[str, str], access: Access, *, workers: int | None = None
) -> dict[str, Record]:
    """Every node's record, by node name (`addresses`: node -> in-band address), in parallel;
    a node that does not answer is tried once more before it counts as unreachable."""
    limit = workers or min(64, 8 * (os.cpu_count() or 1))

    def one(node: str) -> Record:
        record = _read(addresses[node], access)
        return _read(addresses[node], access) if not record.reachable else record

    with ThreadPoolExecutor(max_workers=max(1, min(limit, len(addresses) or 1))) as pool:
        return dict(zip(addresses, pool.map(one, addresses), strict=True))


def stale(records: Mapping[str, Record], expected: Mapping[str, str]) -> dict[str, str]:
    """The nodes of `expected` (node -> inputs it must hold) whose record says otherwise, with
    why; a node that was not read is taken as it is."""
    why: dict[str, str] = {}
    for node, inputs in sorted(expected.items()):
        record = records.get(node)
        if record is None:
            continue
        if not record.reachable:
            why[node] = f"unreachable ({record.message})" if record.message else "unreachable"
        elif record.inputs is None:
            why[node] = "no record of a converge on the node"
        elif record.machine != record.machine_now:
            why[node] = "another machine than the one converged (re-imaged or replaced)"
        elif record.inputs != inputs:
            why[node] = "converged to other variables or roles"
    return why


def _read(address: str, access: Access) -> Record:
    command = f"cat {PATH} 2>/dev/null; echo; echo {_SPLIT}; cat /etc/machine-id 2>/dev/null"
    try:
        done = subprocess.run(
            [*_ssh(access), f"{access.user}@{address}", command],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Record(None, None, None, reachable=False, message="timed out")
    if done.returncode == UNREACHABLE and _SPLIT not in done.stdout:
        message = (done.stderr.strip().splitlines() or ["ssh failed"])[-1]
        return Record(None, None, None, reachable=False, message=message[:300])
    recorded, _, machine = done.stdout.partition(_SPLIT)
    inputs, written_on = _parse(recorded)
    return Record(inputs, written_on, machine.strip() or None)


def _parse(text: str) -> tuple[str | None, str | None]:
    try:
        data = json.loads(text.strip() or "null")
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    inputs, machine = data.get("inputs"), data.get("machine")
    return (
        inputs if isinstance(inputs, str) else None,
        machine if isinstance(machine, str) else None,
    )


def _ssh(access: Access) -> list[str]:
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=5"]
    if access.ssh_config is not None:
        argv += ["-F", str(access.ssh_config)]
    if access.private_key is not None:
        argv += ["-i", str(access.private_key), "-o", "IdentitiesOnly=yes"]
    if access.known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={access.known_hosts}"]
    return argv

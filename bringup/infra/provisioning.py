"""Provisioning: a dynamic resource that converges one rack's nodes with the provision playbook.

Its inputs are the rack's hosts and two hashes: of the variables rendered for those hosts and of
the roles and playbooks. `up` converges the racks whose inputs changed and only those. The
outputs are the per-host results; a rack with a failed or unreachable host fails its resource
with a message naming each host and task, while the other racks go on converging.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from bringup.infra import blobs
from bringup.provision.runner import REPOSITORY, lab_settings


class ProvisioningProvider(ResourceProvider):
    """Runs the playbook for the hosts of one Provisioning resource."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Converge the rack."""
        return CreateResult(id_=f"{props['stack']}/{props['rack']}", outs=_converge(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Converge again when the hosts, their variables or the roles changed."""
        keys = ("hosts", "vars_hash", "roles_hash", "playbook", "inventory")
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Converge the rack again."""
        return UpdateResult(outs=_converge(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing to undo: a node keeps what it was given until it is reprovisioned."""


def _converge(props: dict[str, Any]) -> dict[str, Any]:
    root = blobs.project_root()
    ssh, extra_vars = lab_settings(root, props["stack"])
    playbook = root / props["playbook"]
    if not playbook.exists():  # a project folder apart from the repository (tests, benchmarks)
        playbook = REPOSITORY / props["playbook"]
    request = {
        "playbook": str(playbook),
        "inventory": str(root / props["inventory"]),
        "private_data_dir": str(root / ".state" / "runs" / props["stack"] / props["rack"]),
        "hosts": list(props["hosts"]),
        "private_key": str(ssh.private_key) if ssh.private_key else None,
        "known_hosts": str(ssh.known_hosts) if ssh.known_hosts else None,
        "extra_vars": extra_vars,
    }
    run = subprocess.run(
        [sys.executable, "-m", "bringup.provision"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"rack {props['rack']}: the playbook run broke: {run.stderr[-1500:]}")
    result = json.loads(run.stdout)
    hosts = {
        h: {k: r[k] for k in ("status", "changed", "failed_task", "message")}
        for h, r in result["hosts"].items()
    }
    bad = [
        f"{h} {r['status']}"
        + (f" at '{r['failed_task']}'" if r["failed_task"] else "")
        + f": {r['message']}"
        for h, r in sorted(hosts.items())
        if r["status"] in ("failed", "unreachable")
    ]
    missing = sorted(set(props["hosts"]) - set(hosts))
    if not hosts:
        output = (Path(result["artifacts"]) / "stdout").read_text(errors="replace")[-1500:]
        raise RuntimeError(
            f"rack {props['rack']}: the playbook did not run ({result['status']}): {output.strip()}"
        )
    if bad or missing:
        detail = "; ".join(bad + [f"{h} not reached by the play" for h in missing])
        raise RuntimeError(f"rack {props['rack']}: {detail} (artifacts: {result['artifacts']})")
    return {**props, "results": hosts}


class Provisioning(Resource, module="bringup", name="Provisioning"):
    """One rack (or SU) converged by the provision playbook."""

    results: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`props`: stack, rack, hosts, inventory, playbook, vars_hash, roles_hash."""
        super().__init__(ProvisioningProvider(), name, {**props, "results": None}, opts)


def tree_hash(root: Path, folders: tuple[str, ...]) -> str:
    """sha256 over every file (path and bytes) under `folders` of `root`, in sorted order."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                digest.update(
                    str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0"
                )
    return digest.hexdigest()


def text_hash(texts: list[str]) -> str:
    """sha256 over some rendered texts, in the order given."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()

"""Admission: a dynamic resource that burns in, validates and judges one rack's nodes.

It follows the rack's Provisioning resource. Its inputs are the rack's hosts, its NVLink
domains, the policy and DCGM level, the hash of the provisioning results (a new converge means
a new judgement) and the hash of the validation suite. `up` judges again the racks whose inputs
changed, and racks with a node the ledger marks repaired (`bringup repaired`). Quarantine is an
outcome, not an error: the resource succeeds with the admitted and quarantined nodes and their
findings as outputs; only a run that cannot judge at all fails it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from bringup.infra import blobs

INPUTS = ("hosts", "domains", "policy", "dcgm_level", "provisioned_hash", "suite_hash")


class AdmissionProvider(ResourceProvider):
    """Runs `python -m bringup.admit` for the hosts of one Admission resource."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Judge the rack."""
        return CreateResult(id_=f"{props['stack']}/{props['rack']}", outs=_judge(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Judge again when an input changed or a node of the rack was repaired."""
        changed = any(olds.get(k) != news.get(k) for k in INPUTS)
        return DiffResult(changes=changed or _repaired(news))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Judge the rack again."""
        return UpdateResult(outs=_judge(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """The ledger keeps the history; nothing to undo."""


def _repaired(props: dict[str, Any]) -> bool:
    from bringup.admit.command import open_ledger

    with open_ledger(blobs.project_root()) as ledger:
        states = {s.node: s.state for s in ledger.status(props["stack"])}
    return any(states.get(h) == "repaired" for h in props["hosts"])


def _judge(props: dict[str, Any]) -> dict[str, Any]:
    request = {
        "root": str(blobs.project_root()),
        **{k: props[k] for k in ("stack", "hosts", "inventory", "domains", "policy")},
        "dcgm_level": props["dcgm_level"],
        "burn_in": True,
    }
    run = subprocess.run(
        [sys.executable, "-m", "bringup.admit"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"rack {props['rack']}: admission could not run: {run.stderr[-1500:]}")
    result = json.loads(run.stdout)
    admitted = set(result["admitted"])
    capacity: dict[str, dict[str, int]] = {}
    for host in admitted:
        sku, gpus = props["node_skus"][host], props["node_gpus"][host]
        row = capacity.setdefault(sku, {"nodes": 0, "gpus": 0})
        row["nodes"] += 1
        row["gpus"] += gpus
    return {**props, "verdicts": result, "capacity": capacity}


class Admission(Resource, module="bringup", name="Admission"):
    """One rack's nodes judged: admitted, quarantined with findings, or unreachable."""

    verdicts: pulumi.Output[dict[str, Any]]
    capacity: pulumi.Output[dict[str, Any]]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """`props`: stack, rack, hosts, inventory, domains, policy, dcgm_level, node_skus,
        node_gpus, provisioned_hash, suite_hash."""
        super().__init__(
            AdmissionProvider(), name, {**props, "verdicts": None, "capacity": None}, opts
        )

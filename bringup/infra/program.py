"""The Pulumi program: one Cluster component for a validated cluster declaration.

`bringup up` runs it inline through the Automation API; Pulumi.yaml's program, `__main__.py`,
runs it for a plain `pulumi up`. Both plan the same declaration and declare the same resources,
but for the MUNGE key: a secret of the stack's config, which only Pulumi.yaml's program reads
(`bringup up` gives the engine a config of its own, made from the declaration).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import pulumi

from bringup.infra.components import AdmitSettings, Cluster, ClusterArgs, Deployment
from bringup.plan import make_plan
from bringup.provision.markers import Record
from bringup.spec import Cluster as ClusterSpec


def cluster_program(
    cluster: ClusterSpec,
    deployment: Deployment,
    provision: bool = False,
    admit: AdmitSettings | None = None,
    records: Mapping[str, Record] | None = None,
    munge_key: pulumi.Output[str] | None = None,
) -> Cluster:
    """Plan `cluster` and declare its component tree; exports the stack outputs."""
    args = ClusterArgs(make_plan(cluster), deployment, provision, admit, records, munge_key)
    root = Cluster(cluster.name, args)
    pulumi.export("nodes", root.nodes)
    pulumi.export("gpus", root.gpus)
    pulumi.export("switches", root.switches)
    pulumi.export("inventory", root.inventory)
    if root.munge_key is not None:
        pulumi.export("munge_key", root.munge_key)
    if root.provisioned is not None:
        pulumi.export("hosts", root.provisioned)
    if root.admitted is not None:
        pulumi.export("admitted", root.admitted)
        pulumi.export("admission", root.verdicts)
    return root


async def registered(resources: Iterable[pulumi.Resource]) -> None:
    """Wait until the engine has answered the registration of every one of `resources`.

    An inline program may return an awaitable, which the SDK awaits before its own wait for the
    program's outstanding outputs. That wait is quadratic in their number: each time an output
    completes it waits anew on every one still pending (pulumi 3.260, runtime/stack.py,
    wait_for_rpcs), most of the Python time of a 1,000-rack `up`. Waiting here on each
    resource's URN, which the SDK resolves with the rest of the resource's outputs when the
    engine answers, costs one callback per resource, and the SDK's wait then finds its outputs
    done. A failed registration resolves the URN with its error: left to the SDK, which
    reports it as it did.
    """
    await asyncio.gather(*(r.urn.future() for r in resources), return_exceptions=True)

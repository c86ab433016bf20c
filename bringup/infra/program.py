"""The Pulumi program: one Cluster component for a validated cluster declaration.

`bringup up` runs it inline through the Automation API; Pulumi.yaml's program, `__main__.py`,
runs it for a plain `pulumi up`. Both plan the same declaration and declare the same resources,
but for the MUNGE key: a secret of the stack's config, which only Pulumi.yaml's program reads
(`bringup up` gives the engine a config of its own, made from the declaration).
"""

from __future__ import annotations

from collections.abc import Mapping

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

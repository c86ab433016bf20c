"""A Kubernetes cluster's files beside its inventory: what bringup plans that the cluster applies.

Today one file, ``kubernetes/topology.yaml``, for a stack with ``scheduler.kueue``: the Kueue
Topology of the plan (:func:`bringup.plan.scheduler.kueue_topology`) and a ResourceFlavor per
SKU that uses it, as YAML documents for ``kubectl apply -f``. The node labels they read are the
plan's too, rendered into each host's host_vars and set by admission.

>>> from pathlib import Path
>>> from bringup.plan import make_plan
>>> from bringup.spec import load_cluster
>>> plan = make_plan(load_cluster(Path("stacks/Pulumi.mixed.yaml")))
>>> sorted(render_kubernetes_files(plan, "mixed"))
['topology.yaml']
"""

from __future__ import annotations

from bringup.plan import Plan
from bringup.plan.scheduler import kueue_topology
from bringup.render.environment import template

KUBERNETES_DIR = "kubernetes"
"""The folder of a Kubernetes cluster's files in its inventory."""

KUEUE_API_VERSION = "kueue.x-k8s.io/v1beta2"
"""The Kueue API the Topology and ResourceFlavor are written in: v1beta2, which Kueue v0.17
serves and stores for both (v1beta1 is served too, no longer stored). Sources: Kueue's
"Topology Aware Scheduling" concepts page (https://kueue.sigs.k8s.io/docs/concepts/
topology_aware_scheduling/) and its sample site/static/examples/tas/sample-queues.yaml, and the
CRDs of v0.17.8 (config/components/crd/bases/kueue.x-k8s.io_topologies.yaml: v1beta2 served and
storage; a ResourceFlavor with topologyName needs at least one nodeLabel; kubernetes.io/hostname
only as the last level)."""


def render_kubernetes_files(plan: Plan, stack: str) -> dict[str, str]:
    """The cluster's Kubernetes files, by path relative to :data:`KUBERNETES_DIR`: none unless
    the stack asks for Kueue."""
    if not plan.cluster.scheduler.kueue:
        return {}
    text = template("inventory/kubernetes/topology.yaml.j2").render(
        stack=stack, api_version=KUEUE_API_VERSION, topology=kueue_topology(plan)
    )
    return {"topology.yaml": text}

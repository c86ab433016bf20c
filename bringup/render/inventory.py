"""The rendered inventory of a stack: plan in, ``{path relative to inventory/<stack>: text}`` out.

Files fall in two kinds. Cluster files list every host or the whole cluster (hosts.yml,
group_vars/, cabling.csv, topology.conf, bom.json, and for a Slurm cluster slurm/: slurm.conf,
gres.conf, topology.conf and cgroup.conf as production runs them; for a Kubernetes cluster with
Kueue, kubernetes/topology.yaml) and change whenever the cluster does. Rack files (one
host_vars/<node>.yml per node) depend on their own rack's nodes only, so adding a rack adds that
rack's files and leaves every other rack's files byte-identical.

>>> from pathlib import Path
>>> from bringup.plan import make_plan
>>> from bringup.spec import load_cluster
>>> plan = make_plan(load_cluster(Path("stacks/Pulumi.lab.yaml")))
>>> sorted(render_rack_files(plan, "lab", "lab-h1-r01-k01"))
['host_vars/lab-h1-r01-k01-n1.yml', 'host_vars/lab-h1-r01-k01-n2.yml']
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json

from pydantic import JsonValue

from bringup.catalog import load_catalog
from bringup.plan import Plan, write_cabling_csv
from bringup.plan.bom import bill_of_materials
from bringup.plan.expectation import Expectations
from bringup.plan.scheduler import LABELS_VARIABLE, kubernetes_labels, slurm_topology
from bringup.render.environment import template
from bringup.render.hosts import all_group, sku_group
from bringup.render.kubernetes import KUBERNETES_DIR, render_kubernetes_files
from bringup.render.role_vars import cluster_role_vars, host_role_vars, sku_role_vars
from bringup.render.slurm import SlurmSite, render_slurm_files
from bringup.spec import Cluster

SLURM_DIR = "slurm"
"""The folder of a Slurm cluster's configuration files in its inventory."""


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the UTF-8 text: the input Pulumi compares to see a file change."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_cluster_files(plan: Plan, stack: str) -> dict[str, str]:
    """The files that list every host or describe the whole cluster, by relative path."""
    files = {
        "hosts.yml": template("inventory/hosts.yml.j2").render(
            stack=stack, all_group=all_group(plan)
        ),
        "group_vars/all.yml": template("inventory/group_vars/all.yml.j2").render(
            _cluster_vars(plan, stack)
        ),
        "cabling.csv": _cabling_csv(plan),
        "topology.conf": template("inventory/topology.conf.j2").render(
            stack=stack, topology=slurm_topology(plan).render()
        ),
        "bom.json": _bom_json(plan),
    }
    if plan.cluster.scheduler.kind == "slurm":
        for name, text in render_slurm_files(plan, SlurmSite.of(plan.cluster)).items():
            files[f"{SLURM_DIR}/{name}"] = text
    for name, text in render_kubernetes_files(plan, stack).items():
        files[f"{KUBERNETES_DIR}/{name}"] = text
    sku_template = template("inventory/group_vars/sku.yml.j2")
    for sku in sorted({n.sku for n in plan.nodes}):
        files[f"group_vars/{sku_group(sku)}.yml"] = sku_template.render(_sku_vars(plan, sku, stack))
    return dict(sorted(files.items()))


def render_rack_files(plan: Plan, stack: str, rack: str) -> dict[str, str]:
    """The host_vars of every node of `rack`, by relative path; ValueError for an unknown rack."""
    host_template = template("inventory/host_vars/host.yml.j2")
    files = {}
    if rack not in plan.rack_by_name:
        raise ValueError(f"rack {rack!r}: not in the plan of cluster {plan.cluster.name!r}")
    expectations = Expectations(plan)
    for node in plan.nodes_in(rack):
        expected = expectations.of(node)
        files[f"host_vars/{node.name}.yml"] = host_template.render(
            stack=stack,
            expected=expected.to_json(),
            kubernetes_labels=kubernetes_labels(plan, node),
            labels_variable=LABELS_VARIABLE,
            role_vars=host_role_vars(expected),
        )
    return dict(sorted(files.items()))


def health_report_url(cluster: Cluster, address: str | None = None) -> str:
    """Where the nodes send their health verdicts: `bringup watch` on the Slurm controller (its
    address, else its name), at the stack's health port; `address` overrides the controller's."""
    scheduler = cluster.scheduler
    host = address or scheduler.controller_address or scheduler.controller_in(cluster.name)
    return f"http://{host}:{cluster.health.port}/v1/verdicts"


def _cluster_vars(plan: Plan, stack: str) -> dict[str, JsonValue]:
    cluster = plan.cluster
    return {
        "stack": stack,
        "cluster": cluster.name,
        "site": cluster.site.name,
        "scheduler": {
            "kind": cluster.scheduler.kind,
            "cluster_name": cluster.scheduler.cluster_name or cluster.name,
        },
        "health": {
            "interval_s": cluster.health.interval_s,
            "report_url": health_report_url(cluster),
        },
        "fabrics": [
            {
                "name": f.name,
                "kind": f.kind.value,
                "role": f.role.value,
                "switch": f.switch,
                "speed_gbps": f.speed_gbps,
                "planes": f.planes,
                "cidr": str(f.cidr),
            }
            for f in sorted(cluster.fabrics, key=lambda f: f.name)
        ],
        "storage": [
            s.model_dump(mode="json") for s in sorted(cluster.storage, key=lambda s: s.name)
        ],
        "role_vars": cluster_role_vars(plan),
    }


def _sku_vars(plan: Plan, sku_id: str, stack: str) -> dict[str, JsonValue]:
    sku = load_catalog().sku(sku_id)
    software = plan.software.get(sku_id)
    return {
        "stack": stack,
        "sku": {
            "id": sku.id,
            "system_class": sku.system_class.value,
            "gpu": sku.gpu.model_dump(mode="json") if sku.gpu else None,
            "nvlink": sku.nvlink.model_dump(mode="json") if sku.nvlink else None,
        },
        "software": software.model_dump(mode="json") if software else None,
        "thresholds": plan.thresholds[sku_id].model_dump(mode="json"),
        "role_vars": sku_role_vars(plan, sku_id),
    }


def _bom_json(plan: Plan) -> str:
    return json.dumps(dataclasses.asdict(bill_of_materials(plan)), indent=2, sort_keys=True) + "\n"


def _cabling_csv(plan: Plan) -> str:
    out = io.StringIO()
    write_cabling_csv(plan, out)
    return out.getvalue()

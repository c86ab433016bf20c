"""A Kubernetes stack's Kueue Topology: rendered for Kueue only, YAML that Kueue v0.17 takes, its
levels the labels the nodes carry, a ResourceFlavor per SKU that uses it."""

from __future__ import annotations

from typing import Any

import yaml

from bringup.plan import Plan
from bringup.plan.scheduler import kubernetes_labels
from bringup.render import render_cluster_files
from bringup.render.kubernetes import KUEUE_API_VERSION, render_kubernetes_files

from .conftest import HEADER, lab_data, plan_of, stack_plan

TOPOLOGY = "kubernetes/topology.yaml"


def _documents(plan: Plan, stack: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(render_cluster_files(plan, stack)[TOPOLOGY]))


def test_the_mixed_stack_s_topology_has_its_levels_broadest_first() -> None:
    topology, *flavors = _documents(stack_plan("mixed"), "mixed")
    assert topology == {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "Topology",
        "metadata": {"name": "mixed"},
        "spec": {
            "levels": [
                {"nodeLabel": "bringup.dev/su"},
                {"nodeLabel": "bringup.dev/rack"},
                {"nodeLabel": "kubernetes.io/hostname"},
            ]
        },
    }
    assert [f["metadata"]["name"] for f in flavors] == [
        "cpu",
        "gb200-nvl72",
        "hgx-a100",
        "hgx-h100",
    ]
    for flavor in flavors:
        name = flavor["metadata"]["name"]
        assert flavor == {
            "apiVersion": KUEUE_API_VERSION,
            "kind": "ResourceFlavor",
            "metadata": {"name": name},
            "spec": {"nodeLabels": {"bringup.dev/sku": name}, "topologyName": "mixed"},
        }


def test_each_flavor_selects_its_sku_s_nodes_by_their_own_labels() -> None:
    plan = stack_plan("mixed")
    _topology, *flavors = _documents(plan, "mixed")
    for flavor in flavors:
        selector = flavor["spec"]["nodeLabels"].items()
        chosen = {n.sku for n in plan.nodes if selector <= kubernetes_labels(plan, n).items()}
        assert chosen == {flavor["metadata"]["name"]}


def test_the_file_starts_with_the_header_and_is_named_after_the_scheduler_s_cluster() -> None:
    data = lab_data()
    data["scheduler"] = {"kind": "kubernetes", "kueue": True, "cluster_name": "train"}
    text = render_cluster_files(plan_of(data), "staging")[TOPOLOGY]
    assert text.startswith(HEADER.format("staging"))
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    topology, *flavors = yaml.safe_load_all(text)
    assert topology["metadata"]["name"] == "train"
    assert {f["spec"]["topologyName"] for f in flavors} == {"train"}


def test_no_kueue_no_topology(lab: Plan) -> None:
    assert render_kubernetes_files(lab, "lab") == {}
    data = lab_data()
    data["scheduler"] = {"kind": "kubernetes"}
    files = render_cluster_files(plan_of(data), "lab")
    assert not [path for path in files if path.startswith("kubernetes/")]

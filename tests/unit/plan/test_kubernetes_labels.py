"""Kubernetes node labels: every value one Kubernetes accepts, the NVLink clique on NVL72 trays
only and only where bringup sets it, and the labels Kueue's Topology levels name."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bringup.plan import Plan, make_plan
from bringup.plan.scheduler import (
    CLIQUE_LABEL,
    HOSTNAME_LABEL,
    KUEUE_LEVELS,
    kubernetes_labels,
    kueue_topology,
    label_value,
)
from bringup.spec import Scheduler, load_cluster

STACKS = Path(__file__).resolve().parents[3] / "stacks"
STACK_NAMES = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml"))
TRAY, HGX = "mix1-h1-r02-k05-t07", "mix1-h1-r02-k01-n3"


@cache
def _plan(stack: str, **scheduler: str) -> Plan:
    """The plan of an example stack, with its scheduler replaced where `scheduler` says."""
    spec = load_cluster(STACKS / f"Pulumi.{stack}.yaml")
    if scheduler:
        spec = spec.model_copy(update={"scheduler": Scheduler.model_validate(scheduler)})
    return make_plan(spec)


def _is_label_value(text: str) -> bool:
    """Kubernetes' rule, written apart from the code under test (apimachinery's
    IsValidLabelValue): empty, or at most 63 characters of [A-Za-z0-9._-] that start and end
    with a letter or digit."""
    ends = string.ascii_letters + string.digits
    inner = ends + "-_."
    if text == "":
        return True
    return len(text) <= 63 and set(text) <= set(inner) and text[0] in ends and text[-1] in ends


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_./ é", max_size=70))
def test_label_value_takes_exactly_what_kubernetes_takes(text: str) -> None:
    if _is_label_value(text):
        assert label_value(text) == text
    else:
        with pytest.raises(ValueError, match="is not a Kubernetes label value") as error:
            label_value(text)
        assert repr(text) in str(error.value)


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_label_of_every_example_stack_is_one_kubernetes_takes(stack: str) -> None:
    plan = _plan(stack)
    for node in plan.nodes:
        values = kubernetes_labels(plan, node).values()
        assert all(_is_label_value(v) for v in values), node.name


def test_the_mixed_stack_s_labels_name_each_node_s_place_and_an_nvl72_tray_s_clique() -> None:
    plan = _plan("mixed")
    assert kubernetes_labels(plan, plan.node(TRAY)) == {
        "bringup.dev/compute-fabric": "compute-ndr",
        "bringup.dev/hall": "1",
        "bringup.dev/leaf-group": "su02-l1",
        "bringup.dev/nvlink-domain": "mix1-h1-r02-k05-nvl1",
        "bringup.dev/rack": "mix1-h1-r02-k05",
        "bringup.dev/row": "2",
        "bringup.dev/sku": "gb200-nvl72",
        "bringup.dev/su": "2",
        "nvidia.com/gpu.clique": "mix1-h1-r02-k05-nvl1",
        "topology.kubernetes.io/zone": "mix1-h1",
    }
    # an HGX node's NVLink domain is its own baseboard: no clique shared with other nodes
    assert kubernetes_labels(plan, plan.node(HGX)) == {
        "bringup.dev/compute-fabric": "compute-ndr",
        "bringup.dev/hall": "1",
        "bringup.dev/leaf-group": "su01-l1",
        "bringup.dev/nvlink-domain": "mix1-h1-r02-k01-n3-nvl",
        "bringup.dev/rack": "mix1-h1-r02-k01",
        "bringup.dev/row": "2",
        "bringup.dev/sku": "hgx-h100",
        "bringup.dev/su": "1",
        "topology.kubernetes.io/zone": "mix1-h1",
    }


@pytest.mark.parametrize(
    ("scheduler", "cliques"),
    [
        pytest.param({}, True, id="default"),
        pytest.param({"clique_label": "bringup"}, True, id="bringup"),
        pytest.param({"clique_label": "dra-driver"}, False, id="dra-driver"),
        pytest.param({"imex": "dra-driver"}, False, id="imex-dra-driver"),
        pytest.param({"imex": "dra-driver", "clique_label": "bringup"}, True, id="imex-bringup"),
    ],
)
def test_the_clique_is_on_the_nvl72_trays_where_bringup_sets_it(
    scheduler: dict[str, str], cliques: bool
) -> None:
    plan = _plan("mixed", kind="kubernetes", **scheduler)
    for node in plan.nodes:
        labels = kubernetes_labels(plan, node)
        tray = node.sku == "gb200-nvl72"
        expected = {CLIQUE_LABEL: node.nvlink_domain} if tray and cliques else {}
        assert {k: v for k, v in labels.items() if k == CLIQUE_LABEL} == expected, node.name


def test_a_slurm_stack_s_trays_carry_the_clique_too() -> None:
    """Every stack's host_vars carry the labels; a Slurm cluster has no DRA driver to set it."""
    plan = _plan("lab")
    trays = [n for n in plan.nodes if n.sku == "gb200-nvl72"]
    assert {kubernetes_labels(plan, n)[CLIQUE_LABEL] for n in trays} == {"lab-h1-r01-k02-nvl1"}


@pytest.mark.parametrize("stack", ["mixed", "lab", "gb200-su"])
def test_every_node_carries_the_labels_of_the_kueue_levels(stack: str) -> None:
    plan = _plan(stack)
    topology = kueue_topology(plan)
    assert topology.levels == KUEUE_LEVELS
    assert topology.levels[-1] == HOSTNAME_LABEL  # kubelet's, and Kueue's lowest level
    for node in plan.nodes:
        labels = kubernetes_labels(plan, node)
        assert {*topology.levels[:-1], topology.sku_label} <= set(labels), node.name

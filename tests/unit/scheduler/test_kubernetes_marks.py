"""What the Kubernetes adapter writes on a Node, as data: the taint, condition and cordon of each
hold reason, what a release lifts (never someone else's cordon or taint), the labels' patch, and
label values that the API server accepts."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bringup.scheduler.kubernetes import (
    CORDONED,
    PENDING,
    QUARANTINE,
    REASON,
    camel,
    held_patch,
    hold_marks,
    label_patch,
    released_patch,
    scheduler_node,
    taint_value,
)

LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$")
"""Kubernetes' rule for a label value (apimachinery validation.IsValidLabelValue), at most 63."""

OPERATOR_TAINT = {"key": "example.com/maintenance", "value": "ticket-4711", "effect": "NoSchedule"}


def node(
    *,
    taints: list[dict[str, str]] | None = None,
    cordoned: bool = False,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict:
    return {
        "metadata": {"name": "n1", "annotations": annotations or {}, "labels": labels or {}},
        "spec": {"taints": taints or [], **({"unschedulable": True} if cordoned else {})},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip


def test_each_reason_becomes_its_taint_and_condition() -> None:
    assert hold_marks("bringup: validation pending (run r1)") == (
        PENDING, "", "ValidationPending", "validation pending (run r1)",
    )  # fmt: skip
    assert hold_marks("bringup: nic:n1/mlx5_0 nic.state (incident 12)") == (
        QUARANTINE, "nic.state", "NicState", "nic:n1/mlx5_0 nic.state (incident 12)",
    )  # fmt: skip
    assert hold_marks("bringup: unreachable (run r2)")[1:3] == ("unreachable", "Unreachable")
    domain = "bringup: nvlink domain lab-nvl1 held: lab-t[01-02] (run r3)"
    assert hold_marks(domain)[1:3] == ("nvlink-domain-held", "NvlinkDomainHeld")


def test_a_quarantine_taints_and_cordons_and_keeps_others_taints() -> None:
    reason = "bringup: gpu:n1/2 gpu.ecc_uncorrected (run r1)"
    pending = {"key": PENDING, "effect": "NoSchedule"}
    patch = held_patch(node(taints=[OPERATOR_TAINT, pending]), reason, QUARANTINE, "gpu.ecc")
    quarantine = {"key": QUARANTINE, "effect": "NoSchedule", "value": "gpu.ecc"}
    assert patch == {
        "spec": {"taints": [OPERATOR_TAINT, quarantine], "unschedulable": True},
        "metadata": {"annotations": {REASON: reason, CORDONED: "true"}},
    }


def test_an_operator_s_cordon_is_not_claimed() -> None:
    reason = "bringup: gpu:n1/2 gpu.ecc_uncorrected (run r1)"
    patch = held_patch(node(cordoned=True), reason, QUARANTINE, "gpu.ecc_uncorrected")
    assert patch is not None
    assert "unschedulable" not in patch["spec"]
    assert CORDONED not in patch["metadata"]["annotations"]


def test_a_hold_already_in_place_changes_nothing() -> None:
    reason = "bringup: validation pending (run r1)"
    held = node(taints=[{"key": PENDING, "effect": "NoSchedule"}], annotations={REASON: reason})
    assert held_patch(held, reason, PENDING, "") is None


def test_a_release_lifts_bringup_s_marks_only() -> None:
    mine = node(
        taints=[OPERATOR_TAINT, {"key": QUARANTINE, "value": "x", "effect": "NoSchedule"}],
        cordoned=True,
        annotations={REASON: "bringup: x", CORDONED: "true"},
    )
    assert released_patch(mine) == {
        "spec": {"taints": [OPERATOR_TAINT], "unschedulable": False},
        "metadata": {"annotations": {REASON: None, CORDONED: None}},
    }
    theirs = node(cordoned=True, taints=[{"key": PENDING, "effect": "NoSchedule"}])
    assert released_patch(theirs) == {"spec": {"taints": []}}
    assert released_patch(node(cordoned=True)) is None


def test_how_a_node_reads_through_the_adapter_interface() -> None:
    pending = scheduler_node(node(taints=[{"key": PENDING, "effect": "NoSchedule"}]))
    assert (pending.state, pending.owned, pending.reason) == (
        "pending", True, "bringup: validation pending",
    )  # fmt: skip
    cordoned = scheduler_node(node(cordoned=True))
    assert (cordoned.state, cordoned.by_operator) == ("cordoned", True)
    ours = scheduler_node(node(cordoned=True, annotations={CORDONED: "true"}))
    assert (ours.state, ours.held) == ("ready", False)
    assert scheduler_node(node(taints=[OPERATOR_TAINT])).held is False


def test_labels_are_set_and_bringup_s_stale_ones_removed() -> None:
    current = node(labels={"bringup.dev/rack": "r1", "bringup.dev/old": "x", "team": "ml"})
    wanted = {"bringup.dev/rack": "r2", "bringup.dev/sku": "hgx-h100"}
    changes = {"bringup.dev/rack": "r2", "bringup.dev/sku": "hgx-h100", "bringup.dev/old": None}
    assert label_patch(current, wanted) == {"metadata": {"labels": changes}}
    assert label_patch(node(labels=wanted), wanted) is None


@given(st.text(max_size=200))
def test_a_taint_value_is_always_one_the_api_server_accepts(text: str) -> None:
    value = taint_value(text)
    assert len(value) <= 63
    assert LABEL_VALUE.match(value), value


def test_check_ids_read_as_condition_reasons() -> None:
    assert camel("gpu.ecc_uncorrected") == "GpuEccUncorrected"
    assert camel("nvlink.imex") == "NvlinkImex"

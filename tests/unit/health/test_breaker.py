"""The circuit breaker on real plans: the lab (21 nodes, one NVL72 domain), a mixed cluster
(58 nodes of four SKUs) and a GB200 scalable unit (8 NVL72 domains), each rule at, under and over
its threshold."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from bringup.errors import BringupError
from bringup.health.breaker import BreakerSettings, Decision, Fleet, decide, escalation
from bringup.plan import make_plan
from bringup.spec import load_cluster

STACKS = Path(__file__).resolve().parents[3] / "stacks"
DEFAULTS = BreakerSettings()


@cache
def fleet(stack: str) -> Fleet:
    return Fleet.from_plan(make_plan(load_cluster(STACKS / f"Pulumi.{stack}.yaml")))


def of_sku(stack: str, sku: str) -> list[str]:
    return sorted(node for node, s in fleet(stack).sku_of.items() if s == sku)


def trays(stack: str, domain: str) -> list[str]:
    return sorted(fleet(stack).domains[domain])


LAB_H100 = ["lab-h1-r01-k01-n1", "lab-h1-r01-k01-n2"]
LAB_CPU = "lab-h1-r01-k03-n1"
LAB_DOMAIN = "lab-h1-r01-k02-nvl1"
LAB_TRAYS = [f"lab-h1-r01-k02-t{i:02d}" for i in range(1, 19)]
SU_DOMAINS = [f"nvl1-h1-r01-k0{rack}-nvl1" for rack in range(1, 9)]
SU_SPREAD = [f"nvl1-h1-r01-k0{rack}-t{i:02d}" for rack in range(2, 9) for i in (1, 2)]
"""Two trays of each rack of the unit but the first: no domain near its limit."""


# --- the fleet


def test_the_fleet_of_the_lab_plan() -> None:
    lab = fleet("lab")
    assert lab.size == 21
    assert lab.sku_sizes == {"hgx-h100": 2, "gb200-nvl72": 18, "cpu": 1}
    assert lab.domains == {LAB_DOMAIN: frozenset(LAB_TRAYS)}
    # an HGX node is its own NVLink domain: no domain rule, never escalated
    assert not set(LAB_H100) & set(lab.domain_of)
    assert LAB_CPU not in lab.domain_of


def test_the_fleet_of_a_scalable_unit_has_a_domain_per_rack() -> None:
    su = fleet("gb200-su")
    assert (su.size, su.sku_sizes) == (144, {"gb200-nvl72": 144})
    assert sorted(su.domains) == SU_DOMAINS
    assert {len(t) for t in su.domains.values()} == {18}
    assert set(SU_SPREAD) <= set(su.domain_of)


# --- the first drain


@pytest.mark.parametrize("node", [*LAB_H100, LAB_CPU, LAB_TRAYS[0]])
def test_one_failing_node_is_always_drained(node: str) -> None:
    assert decide(node, set(), fleet("lab"), DEFAULTS) == Decision(drain=True, reason="")
    # whatever the settings: a limit of none still lets one node through
    none = BreakerSettings(cluster_share=0.0, sku_share=0.0, domain_trays=0)
    assert decide(node, [], fleet("lab"), none).drain
    # and a node drained within the window that fails again is still one node
    assert decide(node, [node, node], fleet("lab"), none).drain


# --- the cluster limit


@pytest.mark.parametrize(
    ("stack", "drained", "drain"),
    [
        # the lab: max(1, floor(10% of 21)) = 2
        ("lab", LAB_TRAYS[1:2], True),
        ("lab", LAB_TRAYS[1:3], False),
        # a scalable unit: floor(10% of 144) = 14, spread over its racks (no domain rule)
        ("gb200-su", SU_SPREAD[:13], True),
        ("gb200-su", SU_SPREAD[:14], False),
    ],
)
def test_the_cluster_limit(stack: str, drained: list[str], drain: bool) -> None:
    node = trays(stack, sorted(fleet(stack).domains)[0])[0]
    decision = decide(node, drained, fleet(stack), DEFAULTS)
    assert decision.drain is drain
    if drain:
        assert decision.reason == ""
        return
    count, size = len(drained) + 1, fleet(stack).size
    limit = {"lab": 2, "gb200-su": 14}[stack]
    assert decision.reason.startswith(
        f"circuit breaker: {count} nodes of {size} ({count / size:.0%}) drained within 600 s, "
        f"over the cluster limit of 10% ({limit} nodes)"
    )


def test_the_cluster_limit_reads_as_the_design_says() -> None:
    decision = decide(LAB_TRAYS[0], LAB_TRAYS[1:3], fleet("lab"), DEFAULTS)
    assert decision == Decision(
        drain=False,
        reason="circuit breaker: 3 nodes of 21 (14%) drained within 600 s, over the cluster "
        "limit of 10% (2 nodes)",
    )


def test_nodes_drained_outside_the_plan_count_for_the_cluster_only() -> None:
    decision = decide(LAB_TRAYS[0], ["retired-1", "retired-2"], fleet("lab"), DEFAULTS)
    assert not decision.drain
    assert "3 nodes of 21" in decision.reason
    assert "gb200-nvl72 nodes" not in decision.reason


def test_a_limit_is_the_share_as_written_not_as_binary_floats_round_it() -> None:
    hundred = Fleet({f"n{i:03d}": "hgx-h100" for i in range(100)}, {})
    settings = BreakerSettings(cluster_share=0.29, sku_share=1.0)  # 0.29 * 100 == 28.999…
    nodes = sorted(hundred.sku_of)
    assert decide(nodes[0], nodes[1:29], hundred, settings).drain  # 29 nodes
    held = decide(nodes[0], nodes[1:30], hundred, settings)  # 30 nodes
    assert "30 nodes of 100 (30%)" in held.reason
    assert "over the cluster limit of 29% (29 nodes)" in held.reason


def test_the_window_is_named() -> None:
    settings = BreakerSettings(window_s=900)
    assert (
        "drained within 900 s"
        in decide(LAB_TRAYS[0], LAB_TRAYS[1:3], fleet("lab"), settings).reason
    )


# --- the SKU limit


def test_the_sku_limit_of_the_lab_keeps_one_h100_in_service() -> None:
    # two H100 nodes: max(1, floor(25% of 2)) = 1, and the cluster's 2 is not exceeded
    held = decide(LAB_H100[0], LAB_H100[1:], fleet("lab"), DEFAULTS)
    assert held == Decision(
        drain=False,
        reason="circuit breaker: 2 hgx-h100 nodes of 2 (100%) drained within 600 s, over the "
        "hgx-h100 limit of 25% (1 node)",
    )
    # a drain of another SKU counts for the cluster, not for the H100s
    assert decide(LAB_H100[0], [LAB_TRAYS[0]], fleet("lab"), DEFAULTS).drain


@pytest.mark.parametrize(
    ("a100", "others", "drain"),
    [
        (3, 1, True),  # 4 A100s of 16 (the limit: floor(25% of 16) = 4), 5 nodes of 58
        (4, 0, False),  # 5 A100s: over the A100 limit, the cluster's (5) not exceeded
        (2, 2, True),  # 5 nodes of 58, 3 of them A100s
    ],
)
def test_the_sku_limit_of_a_mixed_cluster(a100: int, others: int, drain: bool) -> None:
    a100s, h100s = of_sku("mixed", "hgx-a100"), of_sku("mixed", "hgx-h100")
    decision = decide(a100s[0], a100s[1 : 1 + a100] + h100s[:others], fleet("mixed"), DEFAULTS)
    assert decision.drain is drain
    if not drain:
        assert decision.reason == (
            "circuit breaker: 5 hgx-a100 nodes of 16 (31%) drained within 600 s, over the "
            "hgx-a100 limit of 25% (4 nodes)"
        )


def test_a_rollout_to_one_generation_is_held_before_the_cluster_limit() -> None:
    # the cluster limit of 58 nodes is 5: five H100s trip the SKU limit (4) first
    h100s = of_sku("mixed", "hgx-h100")
    held = decide(h100s[0], h100s[1:5], fleet("mixed"), DEFAULTS)
    assert not held.drain
    assert "over the hgx-h100 limit" in held.reason
    assert "cluster limit" not in held.reason


# --- the NVLink domain limit


@pytest.mark.parametrize(
    ("failing", "drain"),
    [
        (4, True),  # domain_trays: four trays are four trays' faults
        (5, False),  # five, under half of 18: a shared cause that is not the domain's
        (8, False),  # still under half
        (9, True),  # half the domain: the domain is the part, drained
        (10, True),
    ],
)
def test_the_domain_limit_of_an_nvl72_rack(failing: int, drain: bool) -> None:
    # the unit's cluster (14) and SKU (36) limits leave room for a domain's
    rack = trays("gb200-su", SU_DOMAINS[0])
    decision = decide(rack[0], rack[1:failing], fleet("gb200-su"), DEFAULTS)
    assert decision.drain is drain
    if not drain:
        assert decision.reason == (
            f"circuit breaker: {failing} trays of NVLink domain {SU_DOMAINS[0]} (18 trays) "
            "drained within 600 s, over the limit of 4 trays below half the domain (at 9 the "
            "domain is the part, and drained)"
        )


def test_the_domain_limit_counts_the_nodes_domain_only() -> None:
    # four trays in each of three racks: 12 nodes, under the cluster limit of 14
    drained = [trays("gb200-su", d)[i] for d in SU_DOMAINS[:3] for i in range(4)]
    node = trays("gb200-su", SU_DOMAINS[3])[0]
    assert decide(node, drained, fleet("gb200-su"), DEFAULTS).drain
    # a fifth tray of the first rack is that rack's fifth
    held = decide(trays("gb200-su", SU_DOMAINS[0])[4], drained, fleet("gb200-su"), DEFAULTS)
    assert re.search(rf"5 trays of NVLink domain {SU_DOMAINS[0]} \(18 trays\)", held.reason)


def test_the_domain_limit_follows_its_setting() -> None:
    rack = trays("gb200-su", SU_DOMAINS[0])
    two = BreakerSettings(domain_trays=2)
    assert decide(rack[0], rack[1:2], fleet("gb200-su"), two).drain
    held = decide(rack[0], rack[1:3], fleet("gb200-su"), two)
    assert "3 trays of NVLink domain" in held.reason
    assert "over the limit of 2 trays" in held.reason


# --- escalation


@pytest.mark.parametrize(("failing", "escalated"), [(1, False), (8, False), (9, True), (18, True)])
def test_escalation_at_half_the_domain(failing: int, escalated: bool) -> None:
    rack = trays("gb200-su", SU_DOMAINS[0])
    assert escalation(rack[0], rack[1:failing], fleet("gb200-su")) == (
        SU_DOMAINS[0] if escalated else None
    )


def test_escalation_counts_the_node_and_its_own_domains_trays() -> None:
    rack, other = trays("gb200-su", SU_DOMAINS[0]), trays("gb200-su", SU_DOMAINS[1])
    # eight failing trays, the node the ninth: half
    assert escalation(rack[0], rack[1:9], fleet("gb200-su")) == SU_DOMAINS[0]
    # the node listed among the failing is counted once: eight
    assert escalation(rack[0], rack[0:8], fleet("gb200-su")) is None
    # another rack's trays are another domain's
    assert escalation(rack[0], rack[1:8] + other, fleet("gb200-su")) is None


def test_an_hgx_node_is_never_escalated() -> None:
    assert escalation(LAB_H100[0], LAB_H100[1:] + LAB_TRAYS, fleet("lab")) is None


def test_one_failing_tray_of_a_small_domain_is_not_the_domain() -> None:
    pair = Fleet({"t1": "gb200-nvl72", "t2": "gb200-nvl72"}, {"t1": "d", "t2": "d"})
    assert escalation("t1", [], pair) is None
    assert escalation("t1", ["t2"], pair) == "d"


def test_escalation_is_still_under_the_cluster_and_sku_limits() -> None:
    # the lab's domain half failing: escalated, and held by the cluster (2) and SKU (4) limits
    lab = fleet("lab")
    assert escalation(LAB_TRAYS[0], LAB_TRAYS[1:9], lab) == LAB_DOMAIN
    held = decide(LAB_TRAYS[0], LAB_TRAYS[1:9], lab, DEFAULTS)
    assert not held.drain
    assert held.reason == (
        "circuit breaker: 9 nodes of 21 (43%) drained within 600 s, over the cluster limit of "
        "10% (2 nodes); 9 gb200-nvl72 nodes of 18 (50%) drained within 600 s, over the "
        "gb200-nvl72 limit of 25% (4 nodes)"
    )
    # a unit's rack half failing, with six drains elsewhere: 15 nodes, over the cluster's 14
    rack = trays("gb200-su", SU_DOMAINS[0])
    elsewhere = [trays("gb200-su", d)[0] for d in SU_DOMAINS[1:7]]
    assert escalation(rack[0], rack[1:9], fleet("gb200-su")) == SU_DOMAINS[0]
    held = decide(rack[0], rack[1:9] + elsewhere, fleet("gb200-su"), DEFAULTS)
    assert not held.drain
    assert "15 nodes of 144" in held.reason
    assert "trays of NVLink domain" not in held.reason
    assert decide(rack[0], rack[1:9] + elsewhere[:5], fleet("gb200-su"), DEFAULTS).drain


# --- bad input


def test_a_node_outside_the_fleet_is_refused() -> None:
    with pytest.raises(BringupError, match=r"node 'ghost-1': not in the fleet .* \(21 nodes\)"):
        decide("ghost-1", [], fleet("lab"), DEFAULTS)

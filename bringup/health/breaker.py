"""The circuit breaker: whether draining one more failing node is safe for the cluster.

A failing health check drains its node at once. That is right for one broken GPU and a disaster
for a broken cause shared by many nodes: a check with a wrong threshold, a driver or firmware
rollout that makes every node of a generation fail, a fabric manager restarted fleet-wide. Each
fails healthy nodes by the dozen, and draining them all would empty the cluster of capacity that
was serving. So before a drain, the watch service asks `decide`, which counts the node itself
and the distinct nodes drained within the last `BreakerSettings.window_s` seconds, and holds the
drain (the node stays in service, its incident is recorded as held with the reason, and said
loudly) when that count exceeds

- the cluster limit: max(1, floor(cluster_share * nodes of the cluster)),
- the SKU limit: max(1, floor(sku_share * nodes of the SKU)), counting that SKU's nodes, or
- the NVLink domain limit: `domain_trays` trays of the node's domain (an NVL72 rack), while
  fewer than half of its trays are failing.

One failing node is always drained, whatever the settings: a single failure is the ordinary
case, and holding it would leave a broken part under jobs. At half of a domain's trays or more,
the trays are no longer the suspects: the part they share (NVLink switch trays, the domain's
fabric) is, so `escalation` names the domain and the drain goes ahead, still under the cluster
and SKU limits. An HGX node is its own NVLink domain and has no domain rule.

The logic is pure: the caller reads the drains from the ledger (`Ledger.drained_since`) and the
fleet from the plan, so every rule is tested with data alone.

>>> fleet = Fleet({f"n{i}": "hgx-h100" for i in range(20)}, {})
>>> decide("n1", {"n0"}, fleet, BreakerSettings()).drain
True
>>> print(decide("n2", {"n0", "n1"}, fleet, BreakerSettings()).reason)
circuit breaker: 3 nodes of 20 (15%) drained within 600 s, over the cluster limit of 10% (2 nodes)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from bringup.errors import BringupError

if TYPE_CHECKING:  # the watch service hands a plan in; the breaker never makes one
    from bringup.plan import Plan


@dataclass(frozen=True)
class BreakerSettings:
    """How many drains in how long the breaker lets through.

    >>> BreakerSettings(window_s=300).cluster_share
    0.1
    """

    window_s: int = 600
    """The window drains are counted over. A bad check or a rollout reaches every node within a
    check interval or two (the interval check and each job's epilog), so ten minutes sees a
    shared cause whole, while faults of independent parts seldom fall in the same ten minutes."""
    cluster_share: float = 0.10
    """The share of the cluster that may be drained within the window: far above what
    independent hardware faults drain in ten minutes, and a wrong drain still leaves 90% of
    the cluster serving."""
    sku_share: float = 0.25
    """The share of one SKU's nodes that may be drained within the window. A driver or firmware
    rollout goes out per generation, so its failures show in one SKU first; a small pool (the
    four nodes of an older generation) would be emptied long before the cluster limit trips.
    Higher than the cluster share because one node is a larger part of a small pool."""
    domain_trays: int = 4
    """The trays of one NVLink domain that may be drained within the window while fewer than
    half of them fail: a few trays are a few trays' faults, more is a shared cause that is not
    yet the domain's (a check, a rollout); at half the domain, the domain is the part."""


@dataclass(frozen=True)
class Fleet:
    """The nodes the breaker counts against: each node's SKU and, for the trays of a shared
    NVLink domain (an NVL72 rack), that domain.

    >>> Fleet({"a": "hgx-h100", "b": "hgx-h100", "t1": "gb200-nvl72"}, {"t1": "r2"}).sku_sizes
    {'hgx-h100': 2, 'gb200-nvl72': 1}
    """

    sku_of: Mapping[str, str]
    domain_of: Mapping[str, str]
    """Only the nodes of domains of several nodes: an HGX node is its own domain."""

    @classmethod
    def from_plan(cls, plan: Plan) -> Fleet:
        """The plan's nodes, their SKUs and their shared NVLink domains."""
        sku_of = {node.name: node.sku for node in plan.nodes}
        domain_of = {name: domain.name for domain in plan.shared_domains for name in domain.nodes}
        return cls(sku_of, domain_of)

    @cached_property
    def size(self) -> int:
        """Nodes in the cluster."""
        return len(self.sku_of)

    @cached_property
    def sku_sizes(self) -> dict[str, int]:
        """Nodes per SKU."""
        return dict(Counter(self.sku_of.values()))

    @cached_property
    def domains(self) -> dict[str, frozenset[str]]:
        """The trays of each shared NVLink domain, by domain."""
        trays: dict[str, set[str]] = {}
        for node, domain in self.domain_of.items():
            trays.setdefault(domain, set()).add(node)
        return {domain: frozenset(nodes) for domain, nodes in trays.items()}

    def sku(self, node: str) -> str:
        """The SKU of `node`; BringupError for a node the fleet does not hold."""
        try:
            return self.sku_of[node]
        except KeyError:
            raise BringupError(
                f"node {node!r}: not in the fleet the circuit breaker counts ({self.size} nodes)"
            ) from None


@dataclass(frozen=True)
class Decision:
    """Whether to drain a failing node now, and if not, why.

    >>> Decision(drain=True)
    Decision(drain=True, reason='')
    """

    drain: bool
    reason: str = ""
    """Why the drain is held, naming the rule, the counts and the window; '' when drained."""


def decide(
    node: str, drained_in_window: Collection[str], fleet: Fleet, settings: BreakerSettings
) -> Decision:
    """Whether failing `node` may be drained, given the nodes drained within the window.

    Holds when the node and the distinct nodes drained within the window are more than the
    cluster, SKU or NVLink domain limit allows (see the module); never for a node alone.
    """
    counted = {node, *drained_in_window}
    sku = fleet.sku(node)
    if len(counted) == 1:
        return Decision(drain=True)
    window = f"drained within {settings.window_s} s"
    broken: list[str] = []
    limit = _limit(settings.cluster_share, fleet.size)
    if len(counted) > limit:
        broken.append(
            f"{_share(len(counted), fleet.size, 'nodes')} {window}, over the cluster limit of "
            f"{settings.cluster_share:.0%} ({_nodes(limit)})"
        )
    pool = fleet.sku_sizes[sku]
    same_sku = sum(1 for n in counted if fleet.sku_of.get(n) == sku)
    limit = _limit(settings.sku_share, pool)
    if same_sku > limit:
        broken.append(
            f"{_share(same_sku, pool, f'{sku} nodes')} {window}, over the {sku} limit of "
            f"{settings.sku_share:.0%} ({_nodes(limit)})"
        )
    domain = fleet.domain_of.get(node)
    if domain is not None:
        trays = fleet.domains[domain]
        failing = len(counted & trays)
        if failing > settings.domain_trays and 2 * failing < len(trays):
            broken.append(
                f"{failing} trays of NVLink domain {domain} ({len(trays)} trays) {window}, over "
                f"the limit of {settings.domain_trays} trays below half the domain (at "
                f"{math.ceil(len(trays) / 2)} the domain is the part, and drained)"
            )
    if not broken:
        return Decision(drain=True)
    return Decision(drain=False, reason="circuit breaker: " + "; ".join(broken))


def escalation(node: str, failing: Collection[str], fleet: Fleet) -> str | None:
    """The NVLink domain of `node` when half or more of its trays, `node` included, are
    failing: the part at fault is then the domain (its switch trays, its fabric), not each
    tray. None for a node of no shared domain, and for one failing tray alone.

    >>> fleet = Fleet({f"t{i}": "gb200-nvl72" for i in range(4)}, {f"t{i}": "r1" for i in range(4)})
    >>> escalation("t0", {"t1"}, fleet), escalation("t0", set(), fleet)
    ('r1', None)
    """
    domain = fleet.domain_of.get(node)
    if domain is None:
        return None
    trays = fleet.domains[domain]
    count = len({node, *failing} & trays)
    # a tray failing alone is that tray's fault, however small its domain
    return domain if count >= 2 and 2 * count >= len(trays) else None


def _limit(share: float, total: int) -> int:
    """max(1, floor(share * total)): the most nodes a limit lets through, never fewer than one."""
    # rounded first, so that 0.29 * 100 (28.999999999999996 in binary) is 29, as written
    return max(1, math.floor(round(share * total, 9)))


def _share(count: int, total: int, what: str) -> str:
    """``3 nodes of 21 (14%)``."""
    return f"{count} {what} of {total} ({count / total:.0%})"


def _nodes(count: int) -> str:
    """``1 node``, ``2 nodes``."""
    return f"{count} node{'' if count == 1 else 's'}"

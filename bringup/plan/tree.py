"""Fat-tree sizing for one fabric plane (DOMAIN.md §3), as pure integer arithmetic.

Terms: R = switch radix at the plane's speed, N = node slots per SU, r = rails, d / u = leaf ports
down (hosts) / up (spines). Non-blocking means d = u = R/2; with oversubscription k:1 allowed,
d = floor(R*k/(k+1)). Leaves per SU = r * ceil(N/d). Every leaf is numbered globally,
g = (su-1) * leaves_per_su + (rail-1) * leaves_per_rail + i, so a new SU never renumbers one.

Two tiers: S = the smallest S >= ceil(U/R) with u mod S = 0 (U = design leaves * u); it exists
while the design has at most R leaves (R*d host ports, R²/2 when non-blocking).

Three tiers: pods of up to R/2 leaves, each pod's leaves spread over its own spines (R/2 down,
R/2 up); spine j of every pod uplinks to core group j of G switches, G the smallest divisor of
R/2 with pods * (R/2)/G <= R. Pods <= R, so a plane holds R²/2 leaves (R³/4 host ports).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil


@dataclass(frozen=True, slots=True)
class Tree:
    """The shape of one plane: tiers, leaves per SU, spines, pods and core groups."""

    radix: int
    down: int
    up: int
    rails: int
    nodes_per_su: int
    design_sus: int
    leaves_per_rail: int
    tiers: int
    spines: int  # two tiers: spine count; three tiers: spines of a full pod
    pod_leaves: int  # three tiers: leaves per full pod (R/2); two tiers: 0
    pods: int  # three tiers: pods in the design; two tiers: 0
    core_group: int  # three tiers: core switches per spine position (G); two tiers: 0

    @property
    def leaves_per_su(self) -> int:
        """Leaves in one fully built SU: one set per rail."""
        return self.rails * self.leaves_per_rail

    @property
    def design_leaves(self) -> int:
        """Leaves when every SU of the design is built."""
        return self.design_sus * self.leaves_per_su

    @property
    def oversubscription(self) -> str:
        """Leaf down:up ratio, e.g. '1:1'."""
        return "1:1" if self.down == self.up else f"{self.down}:{self.up}"

    def leaf_index(self, su: int, rail: int, i: int) -> int:
        """Global 0-based index of leaf `i` (1-based) of `rail` in `su`."""
        return (su - 1) * self.leaves_per_su + (rail - 1) * self.leaves_per_rail + (i - 1)

    def leaf_of_index(self, g: int) -> tuple[int, int, int]:
        """Inverse of :meth:`leaf_index`: (su, rail, i)."""
        su, rest = divmod(g, self.leaves_per_su)
        rail, i = divmod(rest, self.leaves_per_rail)
        return su + 1, rail + 1, i + 1

    def pod_spines(self, pod: int) -> int:
        """Spines of pod `pod` (0-based) under three tiers, sized for its design leaves."""
        leaves = min(self.pod_leaves, self.design_leaves - pod * self.pod_leaves)
        return _spread(leaves * self.up, self.radix // 2, self.up)

    @property
    def core(self) -> int:
        """Core switches (three tiers), built for the design."""
        return self.up * self.core_group if self.tiers == 3 else 0


def _spread(uplinks: int, ports_per_switch: int, up: int) -> int:
    """Smallest S >= ceil(uplinks/ports) dividing `up`; 0 when none exists."""
    for s in range(max(1, ceil(uplinks / ports_per_switch)), up + 1):
        if up % s == 0:
            return s
    return 0


def size_tree(
    radix: int, nodes_per_su: int, rails: int, design_sus: int, oversubscription: int = 1
) -> Tree | None:
    """Shape a plane for `design_sus` SUs; None when three tiers cannot hold it."""
    down = radix * oversubscription // (oversubscription + 1)
    up = radix - down
    per_rail = ceil(nodes_per_su / down)
    leaves = design_sus * rails * per_rail
    base = {
        "radix": radix,
        "down": down,
        "up": up,
        "rails": rails,
        "nodes_per_su": nodes_per_su,
        "design_sus": design_sus,
        "leaves_per_rail": per_rail,
    }
    spines = _spread(leaves * up, radix, up)
    if spines:
        return Tree(**base, tiers=2, spines=spines, pod_leaves=0, pods=0, core_group=0)
    half = radix // 2
    pods = ceil(leaves / half)
    if pods > radix:
        return None
    group = next(g for g in range(1, half + 1) if half % g == 0 and pods * (half // g) <= radix)
    full = _spread(half * up, half, up)
    return Tree(**base, tiers=3, spines=full, pod_leaves=half, pods=pods, core_group=group)


def max_host_ports(radix: int, oversubscription: int = 1) -> tuple[int, int]:
    """Host ports a plane holds in two and in three tiers (R²/2 and R³/4 when non-blocking)."""
    down = radix * oversubscription // (oversubscription + 1)
    return radix * down, radix * radix // 2 * down

"""Every cable of every plane, generated on demand from the tree's arithmetic.

A 100k-GPU cluster has hundreds of thousands of cables; none is stored. A cable's id is its lower
end, ``<device>:<port>`` (a node port is ``<rdma device>/<port>``, a switch port its logical
number), which is unique because device names are. :func:`cable_at` finds the cable on either end
of a port by inverting the port maps; :func:`cable_by_id` is the same lookup on the lower end.

Port maps (per plane; d / u = leaf ports down / up; m = links between one leaf and one spine):
- node in SU slot s, rail k -> leaf (su, k, (s-1)//d + 1), port (s-1)%d + 1;
- leaf g, uplink k (port d+k+1) -> spine k%S, port g*m + k//S + 1 (three tiers: the pod's spines,
  g counted within the pod);
- spine j of pod p, uplink v (port R/2+v+1) -> core (j, v%G), port p*(R/2)/G + v//G + 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal, NamedTuple

from bringup.plan.fabric import Endpoint, FabricPlan
from bringup.plan.tree import Tree

Tier = Literal["node-leaf", "leaf-spine", "spine-core"]
TIERS: tuple[Tier, ...] = ("node-leaf", "leaf-spine", "spine-core")


class Cable(NamedTuple):
    """One cable: both ends, and where it sits in the fabric.

    A named tuple, not a frozen dataclass: a 100k-GPU plan makes 750,000 of them for
    cabling.csv, and a tuple is built in a third of the time.
    """

    fabric: str
    plane: int
    tier: Tier
    rail: int | None
    a_device: str
    a_port: str
    b_device: str
    b_port: str
    speed_gbps: int

    @property
    def id(self) -> str:
        """Stable id: the lower end, ``<device>:<port>``."""
        return f"{self.a_device}:{self.a_port}"


def fabric_cables(fp: FabricPlan, plane: int) -> Iterator[Cable]:
    """All cables of one plane, tier by tier, in SU / slot / rail order."""
    if fp.tree is None:
        yield from _oob_cables(fp)
        return
    for e in fp.endpoints:
        for rail in range(1, e.ports + 1):
            yield _node_leaf(fp, fp.tree, plane, e, rail)
    for su in fp.built_sus:
        for rail in range(1, fp.tree.rails + 1):
            for i in range(1, fp.tree.leaves_per_rail + 1):
                yield from _leaf_uplinks(fp, fp.tree, plane, fp.tree.leaf_index(su, rail, i))
    if fp.tree.tiers == 3:
        for pod in fp.built_pods():
            for j in range(fp.tree.pod_spines(pod)):
                yield from _spine_uplinks(fp, fp.tree, plane, pod, j)


def cable_counts(fp: FabricPlan) -> dict[Tier, int]:
    """Cables per tier in one plane, counted without generating them."""
    tree = fp.tree
    if tree is None:
        return {"node-leaf": len(fp.endpoints), "leaf-spine": 0, "spine-core": 0}
    spine_core = fp.spines() * (tree.radix // 2) if tree.tiers == 3 else 0
    return {
        "node-leaf": fp.host_ports(),
        "leaf-spine": fp.leaves() * tree.up,
        "spine-core": spine_core,
    }


def node_cable(fp: FabricPlan, e: Endpoint, plane: int, rail: int) -> Cable:
    """The cable from `rail` of endpoint `e` to its leaf on `plane` (tree fabrics)."""
    assert fp.tree is not None
    return _node_leaf(fp, fp.tree, plane, e, rail)


def _speed(fp: FabricPlan) -> int:
    return fp.spec.speed_gbps


def _node_leaf(fp: FabricPlan, tree: Tree, plane: int, e: Endpoint, rail: int) -> Cable:
    leaf = (e.slot - 1) // tree.down + 1
    port = (e.slot - 1) % tree.down + 1
    node_port = f"{e.devices[rail - 1]}/{plane}"
    return Cable(
        fp.name, plane, "node-leaf", rail, e.name, node_port,
        fp.leaf_name(plane, e.su, rail, leaf), str(port), _speed(fp),
    )  # fmt: skip


def _pod_layout(tree: Tree, g: int) -> tuple[int, int, int]:
    """(pod, leaf position in the pod, spines it spreads over) for global leaf `g`."""
    if tree.tiers == 2:
        return 0, g, tree.spines
    pod, pos = divmod(g, tree.pod_leaves)
    return pod, pos, tree.pod_spines(pod)


def _leaf_spine(fp: FabricPlan, tree: Tree, plane: int, g: int, k: int) -> Cable:
    su, rail, i = tree.leaf_of_index(g)
    pod, pos, spines = _pod_layout(tree, g)
    m = tree.up // spines
    return Cable(
        fp.name, plane, "leaf-spine", rail,
        fp.leaf_name(plane, su, rail, i), str(tree.down + k + 1),
        fp.spine_name(plane, pod, k % spines), str(pos * m + k // spines + 1), _speed(fp),
    )  # fmt: skip


def _leaf_uplinks(fp: FabricPlan, tree: Tree, plane: int, g: int) -> Iterator[Cable]:
    """Every uplink of global leaf `g`: :func:`_leaf_spine` for k = 0..u-1, with what the
    leaf's cables share worked out once (the hot loop of cabling.csv)."""
    su, rail, i = tree.leaf_of_index(g)
    pod, pos, spines = _pod_layout(tree, g)
    m = tree.up // spines
    name, speed, down = fp.name, _speed(fp), tree.down
    leaf = fp.leaf_name(plane, su, rail, i)
    spine = [fp.spine_name(plane, pod, s) for s in range(spines)]
    for k in range(tree.up):
        s, t = k % spines, k // spines
        yield Cable(
            name, plane, "leaf-spine", rail, leaf, str(down + k + 1),
            spine[s], str(pos * m + t + 1), speed,
        )  # fmt: skip


def _spine_uplinks(fp: FabricPlan, tree: Tree, plane: int, pod: int, j: int) -> Iterator[Cable]:
    """Every uplink of spine `j` of `pod`: :func:`_spine_core` for v = 0..R/2-1, its shared
    parts worked out once."""
    half, group = tree.radix // 2, tree.core_group
    name, speed = fp.name, _speed(fp)
    spine = fp.spine_name(plane, pod, j)
    core = [fp.core_name(plane, j, h) for h in range(group)]
    first = pod * (half // group) + 1
    for v in range(half):
        h, t = v % group, v // group
        yield Cable(
            name, plane, "spine-core", None, spine, str(half + v + 1),
            core[h], str(first + t), speed,
        )  # fmt: skip


def _spine_core(fp: FabricPlan, tree: Tree, plane: int, pod: int, j: int, v: int) -> Cable:
    half = tree.radix // 2
    group = tree.core_group
    return Cable(
        fp.name, plane, "spine-core", None,
        fp.spine_name(plane, pod, j), str(half + v + 1),
        fp.core_name(plane, j, v % group), str(pod * (half // group) + v // group + 1), _speed(fp),
    )  # fmt: skip


def _oob_cables(fp: FabricPlan) -> Iterator[Cable]:
    tors = dict(fp.tors)
    index: dict[str, int] = {}
    for e in fp.endpoints:
        assert e.rack is not None
        n = index.get(e.rack, 0)
        index[e.rack] = n + 1
        yield _oob_cable(fp, e, n, tors[e.rack])


def _oob_cable(fp: FabricPlan, e: Endpoint, n: int, tors: int) -> Cable:
    assert e.rack is not None
    tor = fp.tor_name(e.rack, n % tors + 1)
    return Cable(fp.name, 1, "node-leaf", None, e.name, "bmc", tor, str(n // tors + 1), _speed(fp))


class CableIndex:
    """Finds a cable by id or by either end, across all fabrics of a plan.

    >>> index.cable_at("compute-p1-su01-r1-l1", "1").a_device  # doctest: +SKIP
    'sjc1-h1-r01-k01-n1'
    """

    def __init__(self, fabrics: tuple[FabricPlan, ...]) -> None:
        self._fabrics = fabrics
        self._patterns = [(fp, _switch_pattern(fp.name)) for fp in fabrics]
        self._oob_rank: dict[str, dict[str, int]] = {}
        # ToRs per rack, one dict per OOB fabric: rebuilding it per node was a quarter of
        # writing a 100k-GPU plan.json
        self._tors = {fp.name: dict(fp.tors) for fp in fabrics if fp.tree is None}

    def cable_by_id(self, cable_id: str) -> Cable | None:
        """The cable whose id is `cable_id`, or None."""
        device, sep, port = cable_id.rpartition(":")
        if not sep:
            return None
        cable = self.cable_at(device, port)
        return cable if cable is not None and cable.id == cable_id else None

    def cable_at(self, device: str, port: str) -> Cable | None:
        """The cable plugged into `port` of `device` (node, appliance, or switch), or None."""
        for fp in self._fabrics:
            e = fp.by_name.get(device)
            if e is not None:
                cable = self._endpoint_cable(fp, e, port)
                if cable is not None:
                    return cable
        for fp, pattern in self._patterns:
            match = pattern.match(device)
            if match and port.isdigit():
                return self._switch_cable(fp, match, int(port))
        return None

    def _endpoint_cable(self, fp: FabricPlan, e: Endpoint, port: str) -> Cable | None:
        if fp.tree is None:
            return self._oob_at(fp, e) if port == "bmc" else None
        device, _, plane_text = port.partition("/")
        if device not in e.devices or not plane_text.isdigit():
            return None
        plane = int(plane_text)
        if plane not in fp.planes:
            return None
        return _node_leaf(fp, fp.tree, plane, e, e.devices.index(device) + 1)

    def _oob_at(self, fp: FabricPlan, e: Endpoint) -> Cable:
        assert e.rack is not None
        return _oob_cable(fp, e, self._rank(fp)[e.name], self._tors[fp.name][e.rack])

    def _rank(self, fp: FabricPlan) -> dict[str, int]:
        if fp.name not in self._oob_rank:
            rank: dict[str, int] = {}
            seen: dict[str | None, int] = {}
            for e in fp.endpoints:
                rank[e.name] = seen.get(e.rack, 0)
                seen[e.rack] = rank[e.name] + 1
            self._oob_rank[fp.name] = rank
        return self._oob_rank[fp.name]

    def _switch_cable(self, fp: FabricPlan, match: re.Match[str], port: int) -> Cable | None:
        if port < 1:
            return None
        if match["tor"]:
            return self._tor_cable(fp, match["rack"], int(match["tor"]), port)
        plane = int(match["plane"])
        tree = fp.tree
        if plane not in fp.planes:
            return None
        if tree is None or port > tree.radix:
            return None
        if match["su"]:
            return _leaf_port(
                fp, tree, plane, int(match["su"]), int(match["rail"]), int(match["leaf"]), port
            )
        if match["core"]:
            return _core_port(fp, tree, plane, int(match["core"]) - 1, port)
        pod = int(match["pod"]) - 1 if match["pod"] else 0
        if (match["pod"] is None) != (tree.tiers == 2):
            return None
        return _spine_port(fp, tree, plane, pod, int(match["spine"]) - 1, port)

    def _tor_cable(self, fp: FabricPlan, rack: str, tor: int, port: int) -> Cable | None:
        tors = self._tors.get(fp.name, {}).get(rack)
        if tors is None or tor > tors:
            return None
        n = (port - 1) * tors + (tor - 1)
        in_rack = [e for e in fp.endpoints if e.rack == rack]
        return _oob_cable(fp, in_rack[n], n, tors) if n < len(in_rack) else None


def _switch_pattern(fabric: str) -> re.Pattern[str]:
    f = re.escape(fabric)
    return re.compile(
        rf"^{f}-(?:p(?P<plane>\d+)-(?:su(?P<su>\d+)-r(?P<rail>\d+)-l(?P<leaf>\d+)"
        rf"|(?:pod(?P<pod>\d+)-)?s(?P<spine>\d+)|core(?P<core>\d+))"
        rf"|(?P<rack>.+)-tor(?P<tor>\d+))$"
    )


def _leaf_port(
    fp: FabricPlan, tree: Tree, plane: int, su: int, rail: int, leaf: int, port: int
) -> Cable | None:
    if (
        su not in fp.built_sus
        or not 1 <= rail <= tree.rails
        or not 1 <= leaf <= tree.leaves_per_rail
    ):
        return None
    if port > tree.down:
        return _leaf_spine(fp, tree, plane, tree.leaf_index(su, rail, leaf), port - tree.down - 1)
    e = fp.by_slot.get((su, (leaf - 1) * tree.down + port))
    if e is None or rail > e.ports:
        return None
    return _node_leaf(fp, tree, plane, e, rail)


def _spine_port(
    fp: FabricPlan, tree: Tree, plane: int, pod: int, j: int, port: int
) -> Cable | None:
    half = tree.radix // 2
    if tree.tiers == 3 and port > half:
        if pod not in fp.built_pods() or j >= tree.pod_spines(pod):
            return None
        return _spine_core(fp, tree, plane, pod, j, port - half - 1)
    spines = tree.spines if tree.tiers == 2 else tree.pod_spines(pod)
    if j >= spines:
        return None
    m = tree.up // spines
    pos, t = divmod(port - 1, m)
    g = pos if tree.tiers == 2 else pod * tree.pod_leaves + pos
    if tree.tiers == 3 and pos >= tree.pod_leaves:
        return None
    su, _, _ = tree.leaf_of_index(g)
    if su not in fp.built_sus:
        return None
    return _leaf_spine(fp, tree, plane, g, t * spines + j)


def _core_port(fp: FabricPlan, tree: Tree, plane: int, core: int, port: int) -> Cable | None:
    if tree.tiers != 3 or core >= tree.core:
        return None
    j, h = divmod(core, tree.core_group)
    per_pod = (tree.radix // 2) // tree.core_group
    pod, t = divmod(port - 1, per_pod)
    if pod not in fp.built_pods() or j >= tree.pod_spines(pod):
        return None
    return _spine_core(fp, tree, plane, pod, j, t * tree.core_group + h)

"""Every cable of every plane, generated on demand from the tree's arithmetic.

A 100k-GPU cluster has hundreds of thousands of cables; none is stored. A cable's id is its lower
end, ``<device>:<port>`` (a node port is ``<rdma device>/<port>``, a switch port its logical
number), which is unique because device names are. :func:`cable_at` finds the cable on either end
of a port by inverting the port maps; :func:`cable_by_id` is the same lookup on the lower end.
:func:`cable_runs` lays the cables of a plane out column by column, a run of them at a time, as
the port maps give them: cabling.csv writes those as text, :func:`fabric_cables` makes cables of
them.

Port maps (per plane; d / u = leaf ports down / up; m = links between one leaf and one spine):
- node in SU slot s, rail k -> leaf (su, k, (s-1)//d + 1), port (s-1)%d + 1;
- leaf g, uplink k (port d+k+1) -> spine k%S, port g*m + k//S + 1 (three tiers: the pod's spines,
  g counted within the pod);
- spine j of pod p, uplink v (port R/2+v+1) -> core (j, v%G), port p*(R/2)/G + v//G + 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
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
    name, speed = fp.name, _speed(fp)
    for run in cable_runs(fp, plane):
        tier = run.tier
        for rail, a_device, a_port, b_device, b_port in run.ends():
            yield Cable(name, plane, tier, rail, a_device, a_port, b_device, b_port, speed)


class CableRun(NamedTuple):
    """Cables of one plane that a port map lays out together (the node ports of a few
    endpoints, one leaf's uplinks, one spine's, the BMCs of a few racks), column by column.

    Columns, not cables, so that cabling.csv formats 750,000 rows of a 100k-GPU plan as text
    without making a :class:`Cable` each; :func:`fabric_cables` makes them of the same run. A
    column may be an iterator (a device repeated): read :meth:`ends` once.
    """

    tier: Tier
    rails: Iterable[int | None]
    a_devices: Iterable[str]
    a_ports: Iterable[str]
    b_devices: Iterable[str]
    b_ports: Iterable[str]

    def ends(self) -> Iterator[tuple[int | None, str, str, str, str]]:
        """(rail, a_device, a_port, b_device, b_port) of each cable, in order."""
        columns = (self.rails, self.a_devices, self.a_ports, self.b_devices, self.b_ports)
        return zip(*columns, strict=False)  # a repeated column is endless


# Endpoints per node-leaf run: enough to spread a run's cost, few enough that its lists stay
# small (a plane of a 500k-GPU plan has a million node ports).
_ENDPOINTS_PER_RUN = 512


def cable_runs(fp: FabricPlan, plane: int) -> Iterator[CableRun]:
    """The cables of one plane as :class:`CableRun`: those of :func:`fabric_cables`, in its
    order."""
    tree = fp.tree
    if tree is None:
        yield from _oob_runs(fp)
        return
    ports = LeafPorts(fp, plane)
    for start in range(0, len(fp.endpoints), _ENDPOINTS_PER_RUN):
        yield ports.run(fp.endpoints[start : start + _ENDPOINTS_PER_RUN])
    uplinks = _Uplinks(fp, tree, plane)
    for su in fp.built_sus:
        for rail in range(1, tree.rails + 1):
            for i in range(1, tree.leaves_per_rail + 1):
                yield uplinks.of_leaf(tree.leaf_index(su, rail, i))
    if tree.tiers == 3:
        for pod in fp.built_pods():
            for j in range(tree.pod_spines(pod)):
                yield uplinks.of_spine(pod, j)


class LeafPorts:
    """Where a tree fabric's endpoints plug in on one plane: the node-leaf port map, with what
    endpoints share (their leaves' names, their ports' names) made once.

    >>> leaves, port = LeafPorts(fp, 1).of(fp.by_name["sjc1-h1-r01-k01-n2"])  # doctest: +SKIP
    >>> leaves[0], port  # the leaf of rail 1, and the port on every rail's leaf
    ('compute-p1-su01-r1-l1', '2')
    """

    def __init__(self, fp: FabricPlan, plane: int) -> None:
        assert fp.tree is not None
        self.fabric = fp
        self.plane = plane
        self._down = fp.tree.down
        self._leaves: dict[tuple[int, int], tuple[str, ...]] = {}
        self._ports: dict[tuple[str, ...], tuple[str, ...]] = {}

    def of(self, e: Endpoint) -> tuple[tuple[str, ...], str]:
        """The leaf of each rail (all the fabric's rails) and the port on it, for `e`."""
        leaf, port = divmod(e.slot - 1, self._down)
        leaves = self._leaves.get((e.su, leaf))
        if leaves is None:
            fp = self.fabric
            leaves = tuple(
                fp.leaf_name(self.plane, e.su, rail, leaf + 1) for rail in range(1, fp.rails + 1)
            )
            self._leaves[(e.su, leaf)] = leaves
        return leaves, str(port + 1)

    def ports(self, e: Endpoint) -> tuple[str, ...]:
        """The names of `e`'s ports on this plane, in rail order: ``<device>/<plane>``."""
        names = self._ports.get(e.devices)
        if names is None:
            names = self._ports[e.devices] = tuple(f"{d}/{self.plane}" for d in e.devices)
        return names

    def run(self, endpoints: Sequence[Endpoint]) -> CableRun:
        """The node-leaf cables of `endpoints`, rail by rail."""
        rails: list[int | None] = []
        a_devices: list[str] = []
        a_ports: list[str] = []
        b_devices: list[str] = []
        b_ports: list[str] = []
        for e in endpoints:
            leaves, port = self.of(e)
            n = e.ports
            rails += range(1, n + 1)
            a_devices += repeat(e.name, n)
            a_ports += self.ports(e)
            b_devices += leaves[:n]
            b_ports += repeat(port, n)
        return CableRun("node-leaf", rails, a_devices, a_ports, b_devices, b_ports)


class _Uplinks:
    """The leaf-spine and spine-core runs of one plane, with the columns that many switches
    share (port numbers, the spines of a pod, the core switches of a spine) made once."""

    def __init__(self, fp: FabricPlan, tree: Tree, plane: int) -> None:
        self.fp, self.tree, self.plane = fp, tree, plane
        half = tree.radix // 2
        self._leaf_ports = [str(tree.down + k + 1) for k in range(tree.up)]
        self._spine_ports = [str(half + v + 1) for v in range(half)]
        self._spines: dict[int, list[str]] = {}
        self._cores: dict[int, list[str]] = {}
        self._core_ports: dict[int, list[str]] = {}

    def of_leaf(self, g: int) -> CableRun:
        """Every uplink of global leaf `g`: what :func:`_leaf_spine` gives for k = 0..u-1."""
        fp, tree, plane = self.fp, self.tree, self.plane
        su, rail, i = tree.leaf_of_index(g)
        pod, pos, spines = _pod_layout(tree, g)
        m = tree.up // spines
        if pod not in self._spines:
            spine = [fp.spine_name(plane, pod, s) for s in range(spines)]
            self._spines[pod] = [spine[k % spines] for k in range(tree.up)]
        return CableRun(
            "leaf-spine", repeat(rail), repeat(fp.leaf_name(plane, su, rail, i)),
            self._leaf_ports, self._spines[pod],
            [str(pos * m + k // spines + 1) for k in range(tree.up)],
        )  # fmt: skip

    def of_spine(self, pod: int, j: int) -> CableRun:
        """Every uplink of spine `j` of `pod`: what :func:`_spine_core` gives for
        v = 0..R/2-1."""
        fp, tree, plane = self.fp, self.tree, self.plane
        half, group = tree.radix // 2, tree.core_group
        if j not in self._cores:
            core = [fp.core_name(plane, j, h) for h in range(group)]
            self._cores[j] = [core[v % group] for v in range(half)]
        if pod not in self._core_ports:
            first = pod * (half // group) + 1
            self._core_ports[pod] = [str(first + v // group) for v in range(half)]
        return CableRun(
            "spine-core", repeat(None), repeat(fp.spine_name(plane, pod, j)),
            self._spine_ports, self._cores[j], self._core_ports[pod],
        )  # fmt: skip


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


def _spine_core(fp: FabricPlan, tree: Tree, plane: int, pod: int, j: int, v: int) -> Cable:
    half = tree.radix // 2
    group = tree.core_group
    return Cable(
        fp.name, plane, "spine-core", None,
        fp.spine_name(plane, pod, j), str(half + v + 1),
        fp.core_name(plane, j, v % group), str(pod * (half // group) + v // group + 1), _speed(fp),
    )  # fmt: skip


def _oob_runs(fp: FabricPlan) -> Iterator[CableRun]:
    """Every BMC cable, the endpoints of a rack counted in order (:func:`_oob_cable`)."""
    tors = dict(fp.tors)
    index: dict[str, int] = {}
    for start in range(0, len(fp.endpoints), _ENDPOINTS_PER_RUN):
        endpoints = fp.endpoints[start : start + _ENDPOINTS_PER_RUN]
        b_devices: list[str] = []
        b_ports: list[str] = []
        for e in endpoints:
            assert e.rack is not None
            n = index.get(e.rack, 0)
            index[e.rack] = n + 1
            cable = _oob_cable(fp, e, n, tors[e.rack])
            b_devices.append(cable.b_device)
            b_ports.append(cable.b_port)
        a_devices = [e.name for e in endpoints]
        yield CableRun("node-leaf", repeat(None), a_devices, repeat("bmc"), b_devices, b_ports)


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

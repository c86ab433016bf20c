"""What the scheduler must know of the topology: Slurm topology.conf, Kubernetes node labels and
Kueue's Topology.

Slurm 24.11 runs one topology plugin for the whole cluster (per-partition topologies need
topology.yaml, 25.05+), so the plan picks one:

- ``topology/block`` when every node sits in a rack-scale NVLink domain (all-NVL72 clusters):
  one block per domain, so a job that fits a domain (``--segment``) stays on NVLink. Blocks are
  listed by compute fabric, SU and position, because Slurm aggregates consecutive lines into
  larger blocks (2, 4, 8 … blocks): neighbouring racks, on the same leaves, aggregate first.
  ``BlockSizes`` is the smallest domain's tray count times the powers of two up to the largest
  aggregate the cluster fills (``18,36,72,144`` for eight NVL72 racks).
- ``topology/tree`` otherwise (HGX clusters; clusters that mix NVL72 racks with HGX or CPU
  nodes). In 24.11 a block topology there would leave the other nodes outside every block
  (slurmctld: "blocks lack access to N nodes") or need blocks smaller than a domain (fatal).
  The tree is built from the fabrics the nodes are cabled to: a leaf group per SU (and per leaf
  index when an SU needs several leaves per rail), under the spines (two tiers) or pods and core
  (three tiers). Each node sits under exactly one leaf group, that of its compute fabric, else
  (CPU nodes) of its in-band or storage fabric; when that makes several trees, one root switch
  joins their tops. The trays of a rack-scale NVLink domain get a switch of their own, named
  after the domain, under their leaf group (the group's other nodes under ``<group>-nodes``), so
  that a job that fits a domain is placed in one.

(SchedMD slurm 24.11, src/plugins/topology/block/block_record.c and tree/switch_record.c.)

Kubernetes reads the topology from node labels: hall, row, rack, SU, NVLink domain, compute
fabric and leaf group under ``bringup.dev/``, the zone, and on NVL72 trays the NVLink clique
(:data:`CLIQUE_LABEL`) unless NVIDIA's stack sets it. Kueue's topology-aware scheduling reads
the SU, rack and host labels through a Topology object (:func:`kueue_topology`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from bringup.catalog import Role, load_catalog
from bringup.plan.fabric import Endpoint, FabricPlan
from bringup.plan.model import Node, NvlinkDomain
from bringup.plan.plan import Plan
from bringup.plan.tree import Tree

LABEL_PREFIX = "bringup.dev"

# The fabric that places a node in the Slurm tree, by role: compute where the node has one;
# else in-band, the network of its management address; else storage.
TREE_ROLES = (Role.COMPUTE, Role.INBAND, Role.STORAGE)

# Joins the tops of several trees (two compute fabrics, or compute and in-band). No one switch
# does that, but topology/tree spans a job only over nodes under one switch, and slurmctld warns
# when no switch reaches every node (topology.conf(5); SchedMD slurm,
# src/plugins/topology/tree/switch_record.c). Being the highest level, it is used last.
ROOT_SWITCH = "root"

# BlockSizes values are the base size times 2**k with k <= 15 (block_record.c: larger is fatal).
MAX_BLOCK_LEVEL = 15


@dataclass(frozen=True, slots=True)
class TopologyLine:
    """One line of topology.conf: a block of nodes, or a switch over nodes or switches."""

    keyword: str  # BlockName or SwitchName
    name: str
    nodes: tuple[str, ...] = ()
    switches: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SlurmTopology:
    """The ``topology.conf`` of the cluster."""

    plugin: str  # topology/block or topology/tree
    lines: tuple[TopologyLine, ...]
    block_sizes: tuple[int, ...] = ()

    def render(self) -> str:
        """topology.conf text."""
        out = [f"# bringup: {self.plugin}; set TopologyPlugin={self.plugin} in slurm.conf"]
        for line in self.lines:
            parts = [f"{line.keyword}={line.name}"]
            if line.nodes:
                parts.append(f"Nodes={hostlist(line.nodes)}")
            if line.switches:
                parts.append(f"Switches={hostlist(line.switches)}")
            out.append(" ".join(parts))
        if self.block_sizes:
            out.append("BlockSizes=" + ",".join(str(s) for s in self.block_sizes))
        return "\n".join(out) + "\n"


_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


@dataclass(slots=True)
class _Run:
    """Consecutive numbers after one prefix, written `width` digits wide (Slurm pads a range to
    the width of its first number: ``n[9-10]`` is n9,n10 and ``n[09-10]`` is n09,n10)."""

    prefix: str
    width: int
    first: int
    last: int

    def takes(self, prefix: str, digits: str) -> bool:
        """Whether ``prefix + digits`` is the number after this run's last, as it writes it."""
        number = int(digits)
        return (
            prefix == self.prefix
            and number == self.last + 1
            and f"{number:0{self.width}d}" == digits
        )

    def text(self) -> str:
        """``01-18``, or ``07`` for a run of one."""
        first = f"{self.first:0{self.width}d}"
        return first if self.first == self.last else f"{first}-{self.last:0{self.width}d}"


def hostlist(names: tuple[str, ...] | list[str]) -> str:
    """Compress names into Slurm hostlist syntax, in their order: ``a-n[1-4],b-t[01-18]``.

    Slurm expands the result back to exactly `names`, in the same order (it pairs NodeName and
    NodeAddr lists by position), so only neighbours are merged.

    >>> hostlist(["a-n1", "a-n2", "a-n3", "a-n5", "b-t01", "b-t02", "c", "a-n7"])
    'a-n[1-3,5],b-t[01-02],c,a-n7'
    """
    runs: list[_Run | str] = []  # a name without a trailing number stays as it is
    for name in names:
        match = _TRAILING_NUMBER.match(name)
        if not match:
            runs.append(name)
        elif runs and isinstance(runs[-1], _Run) and runs[-1].takes(match[1], match[2]):
            runs[-1].last += 1
        else:
            number = int(match[2])
            runs.append(_Run(match[1], len(match[2]), number, number))
    parts: list[str] = []
    bracket: list[_Run] = []  # neighbouring runs of one prefix share a bracket
    for run in [*runs, ""]:
        if bracket and not (isinstance(run, _Run) and run.prefix == bracket[0].prefix):
            texts = [r.text() for r in bracket]
            single = len(texts) == 1 and bracket[0].first == bracket[0].last
            ranges = texts[0] if single else f"[{','.join(texts)}]"
            parts.append(f"{bracket[0].prefix}{ranges}")
            bracket = []
        if isinstance(run, _Run):
            bracket.append(run)
        elif run:
            parts.append(run)
    return ",".join(parts)


def slurm_topology(plan: Plan) -> SlurmTopology:
    """Block topology when every node sits in a rack-scale NVLink domain, tree otherwise."""
    if plan.nodes and all(_in_rack_domain(n) for n in plan.nodes):
        return _blocks(plan)
    return SlurmTopology("topology/tree", _tree(plan))


def _in_rack_domain(node: Node) -> bool:
    nvlink = load_catalog().sku(node.sku).nvlink
    return node.nvlink_domain is not None and nvlink is not None and nvlink.scope == "rack"


def _blocks(plan: Plan) -> SlurmTopology:
    """One block per NVLink domain, neighbours on consecutive lines; BlockSizes to match."""

    def place(domain: NvlinkDomain) -> tuple[str, int, tuple[int, int, int, int], str]:
        first = plan.node(domain.nodes[0])
        fabric = tree_fabric(plan, first)
        return (fabric.name if fabric else "", first.su, first.sort_key, domain.name)

    names = {n.nvlink_domain for n in plan.nodes if n.nvlink_domain is not None}
    domains = sorted((plan.domain_by_name[d] for d in names), key=place)
    lines = tuple(TopologyLine("BlockName", d.name, nodes=d.nodes) for d in domains)
    base = min(len(d.nodes) for d in domains)
    levels = min(len(domains).bit_length() - 1, MAX_BLOCK_LEVEL)
    return SlurmTopology("topology/block", lines, tuple(base << k for k in range(levels + 1)))


def tree_fabric(plan: Plan, node: Node) -> FabricPlan | None:
    """The fabric that places `node` in the Slurm tree: compute, else in-band, else storage."""
    for role in TREE_ROLES:
        fp = plan.fabric_for(node, role)
        if fp is not None and fp.tree is not None:
            return fp
    return None


def leaf_group(tree: Tree, e: Endpoint) -> str:
    """The leaf group of endpoint `e`: the leaves of one index in its SU, over all rails and
    planes (``su02-l1`` for ``compute-p1-su02-r5-l1``)."""
    return f"su{e.su:02d}-l{(e.slot - 1) // tree.down + 1}"


def _tree(plan: Plan) -> tuple[TopologyLine, ...]:
    placed: dict[str, list[Endpoint]] = defaultdict(list)
    for node in plan.nodes:
        fp = tree_fabric(plan, node)
        if fp is not None:
            placed[fp.name].append(fp.by_name[node.name])
    lines: list[TopologyLine] = []
    tops: list[str] = []
    for fp in plan.fabrics:
        if placed[fp.name]:
            fabric_lines = _fabric_tree(plan, fp, placed[fp.name])
            lines += fabric_lines
            tops.append(fabric_lines[-1].name)
    if len(tops) > 1:
        lines.append(TopologyLine("SwitchName", ROOT_SWITCH, switches=tuple(tops)))
    return tuple(lines)


def _fabric_tree(plan: Plan, fp: FabricPlan, placed: list[Endpoint]) -> list[TopologyLine]:
    """Leaf groups of the `placed` endpoints of `fp`, then the switches above them, top last."""
    tree = fp.tree
    assert tree is not None
    groups: dict[str, list[str]] = defaultdict(list)
    su_of: dict[str, int] = {}
    for e in sorted(placed, key=lambda e: (e.su, e.slot)):
        name = f"{fp.name}-{leaf_group(tree, e)}"
        groups[name].append(e.name)
        su_of[name] = e.su
    lines: list[TopologyLine] = []
    for name, nodes in groups.items():
        lines += _leaf_group(plan, name, nodes)
    if tree.tiers == 2:
        lines.append(TopologyLine("SwitchName", f"{fp.name}-spines", switches=tuple(groups)))
        return lines
    pods: dict[int, list[str]] = defaultdict(list)
    for name in groups:
        pods[tree.leaf_index(su_of[name], 1, 1) // tree.pod_leaves + 1].append(name)
    pod_names = [f"{fp.name}-pod{p:02d}" for p in sorted(pods)]
    for p, name in zip(sorted(pods), pod_names, strict=True):
        lines.append(TopologyLine("SwitchName", name, switches=tuple(pods[p])))
    lines.append(TopologyLine("SwitchName", f"{fp.name}-core", switches=tuple(pod_names)))
    return lines


def _leaf_group(plan: Plan, name: str, nodes: list[str]) -> list[TopologyLine]:
    """The switch of one leaf group over its nodes; when some of them are trays of rack-scale
    NVLink domains, a switch per domain (and ``<name>-nodes`` for the others) in between: a
    switch has either nodes or switches under it, never both (switch_record.c)."""
    domains: dict[str, list[str]] = defaultdict(list)
    others: list[str] = []
    for node in nodes:
        planned = plan.node(node)
        domain = planned.nvlink_domain if _in_rack_domain(planned) else None
        if domain is None:
            others.append(node)
        else:
            domains[domain].append(node)
    if not domains:
        return [TopologyLine("SwitchName", name, nodes=tuple(nodes))]
    lines = []
    for domain, trays in domains.items():
        whole = len(trays) == len(plan.domain_by_name[domain].nodes)
        # a domain split over two leaf groups (its trays cabled to two leaves) gets one
        # switch in each, named after both
        switch = domain if whole else f"{name}-{domain}"
        lines.append(TopologyLine("SwitchName", switch, nodes=tuple(trays)))
    if others:
        lines.append(TopologyLine("SwitchName", f"{name}-nodes", nodes=tuple(others)))
    children = tuple(line.name for line in lines)
    return [*lines, TopologyLine("SwitchName", name, switches=children)]


SKU_LABEL = f"{LABEL_PREFIX}/sku"
RACK_LABEL = f"{LABEL_PREFIX}/rack"
SU_LABEL = f"{LABEL_PREFIX}/su"
HOSTNAME_LABEL = "kubernetes.io/hostname"
"""The node's host name, set by its kubelet, not by bringup."""

LABELS_VARIABLE = "bringup_kubernetes_labels"
"""The host variable the labels are rendered into (bringup.render.inventory), where admission
reads them back for a scheduler that takes labels."""


CLIQUE_LABEL = "nvidia.com/gpu.clique"
"""The label by which NVIDIA's stack groups the trays of one NVLink domain: the DRA driver
places a ComputeDomain's IMEX daemons by it. GPU feature discovery sets it to
``<clusterUUID>.<cliqueId>`` as the GPUs report them; where the stack leaves it to bringup
(``scheduler.clique_label``), bringup sets the domain's planned name instead, stable across
reboots and known before a node boots. Only the trays of a rack-scale domain (NVL72) get it: an
HGX node's NVLink is its own baseboard, not a fabric shared with other nodes."""

_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def label_value(text: str) -> str:
    """`text`, which must be a Kubernetes label value: at most 63 letters, digits, '-', '_'
    and '.', starting and ending with a letter or digit (or empty); ValueError names one that
    is not. Bringup's values are names the spec already holds to DNS labels, so a value
    refused here is a planner's mistake, not the stack's.

    >>> label_value("lab-h1-r01-k02-nvl1")
    'lab-h1-r01-k02-nvl1'
    """
    if not _LABEL_VALUE.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a Kubernetes label value: at most 63 letters, digits, '-', '_' "
            "and '.', starting and ending with a letter or digit"
        )
    return text


def kubernetes_labels(plan: Plan, node: Node) -> dict[str, str]:
    """Labels a Kubernetes node gets from the plan (placement and failure domains; the NVLink
    clique of an NVL72 tray where the stack leaves that label to bringup)."""
    labels = {
        SKU_LABEL: node.sku,
        f"{LABEL_PREFIX}/hall": str(node.position.hall),
        f"{LABEL_PREFIX}/row": str(node.position.row),
        RACK_LABEL: node.rack,
        SU_LABEL: str(node.su),
        "topology.kubernetes.io/zone": f"{plan.cluster.site.name}-h{node.position.hall}",
    }
    if node.nvlink_domain:
        labels[f"{LABEL_PREFIX}/nvlink-domain"] = node.nvlink_domain
        if plan.cluster.scheduler.clique_labeller == "bringup" and _in_rack_domain(node):
            labels[CLIQUE_LABEL] = node.nvlink_domain
    compute = plan.fabric_for(node, Role.COMPUTE)
    if compute is not None and compute.tree is not None:
        labels[f"{LABEL_PREFIX}/compute-fabric"] = compute.name
        labels[f"{LABEL_PREFIX}/leaf-group"] = leaf_group(compute.tree, compute.by_name[node.name])
    return {key: label_value(value) for key, value in sorted(labels.items())}


KUEUE_LEVELS = (SU_LABEL, RACK_LABEL, HOSTNAME_LABEL)
"""The levels of the cluster's Kueue Topology, broadest first, from labels every node has: the
SU (racks on the same leaf switches: Kueue's block), the rack, the host (kubelet's label, which
Kueue allows only as the last level). SU numbers repeat on a second compute fabric; a flavor
holds one SKU's nodes, which keeps SKUs on different fabrics apart (the mixed stack's HDR A100s
and NDR H100s, both in SU 1)."""


@dataclass(frozen=True, slots=True)
class KueueTopology:
    """What Kueue's topology-aware scheduling needs of the plan: a Topology named after the
    scheduler's cluster, its levels, and the SKUs, a ResourceFlavor each, that use it (a flavor
    selects its nodes by label: one of a SKU has nodes of one kind)."""

    name: str
    levels: tuple[str, ...]
    skus: tuple[str, ...]
    sku_label: str = SKU_LABEL


def kueue_topology(plan: Plan) -> KueueTopology:
    """The cluster's Kueue Topology and the SKUs whose flavors use it.

    >>> from pathlib import Path
    >>> from bringup.plan import make_plan
    >>> from bringup.spec import load_cluster
    >>> topology = kueue_topology(make_plan(load_cluster(Path("stacks/Pulumi.mixed.yaml"))))
    >>> topology.name, topology.levels[0], topology.skus
    ('mixed', 'bringup.dev/su', ('cpu', 'gb200-nvl72', 'hgx-a100', 'hgx-h100'))
    """
    name = plan.cluster.scheduler.name_in(plan.cluster.name)
    return KueueTopology(name, KUEUE_LEVELS, tuple(sorted({n.sku for n in plan.nodes})))

"""What the scheduler must know of the topology: Slurm topology.conf and Kubernetes node labels.

Slurm: when every GPU node lives in a rack-scale NVLink domain, ``topology/block`` with one block
per domain (jobs stay inside an NVLink domain when they fit); otherwise ``topology/tree`` built
from the fabrics the nodes are cabled to: a leaf group per SU (and per leaf index when an SU needs
several leaves per rail), under the spines (two tiers) or pods and core (three tiers). Each node
sits under exactly one leaf group, that of its compute fabric, else (CPU nodes) of its in-band or
storage fabric; when that makes several trees, one root switch joins their tops.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from bringup.catalog import Role, load_catalog
from bringup.plan.fabric import Endpoint, FabricPlan
from bringup.plan.model import Node
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


def hostlist(names: tuple[str, ...] | list[str]) -> str:
    """Compress names into Slurm hostlist syntax: ``a-n[1-4],b-t[01-18]``."""
    runs: list[tuple[str, int, int, int]] = []  # prefix, width, first, last
    plain: list[str] = []
    for name in names:
        match = _TRAILING_NUMBER.match(name)
        if not match:
            plain.append(name)
            continue
        prefix, digits = match[1], match[2]
        number, width = int(digits), len(digits)
        if runs and runs[-1][0] == prefix and runs[-1][1] == width and runs[-1][3] == number - 1:
            runs[-1] = (prefix, width, runs[-1][2], number)
        else:
            runs.append((prefix, width, number, number))
    merged: dict[str, list[str]] = defaultdict(list)
    order: list[str] = []
    for prefix, width, first, last in runs:
        if prefix not in merged:
            order.append(prefix)
        text = f"{first:0{width}d}" if first == last else f"{first:0{width}d}-{last:0{width}d}"
        merged[prefix].append(text)
    parts = []
    for prefix in order:
        ranges = merged[prefix]
        single = len(ranges) == 1 and "-" not in ranges[0]
        parts.append(f"{prefix}{ranges[0]}" if single else f"{prefix}[{','.join(ranges)}]")
    return ",".join(parts + plain)


def slurm_topology(plan: Plan) -> SlurmTopology:
    """Block topology for all-NVL72 clusters, tree topology otherwise."""
    catalog = load_catalog()
    gpu_nodes = [n for n in plan.nodes if catalog.sku(n.sku).gpus_per_unit]
    rack_scale = bool(gpu_nodes) and all(
        (sku := catalog.sku(n.sku).nvlink) is not None and sku.scope == "rack" for n in gpu_nodes
    )
    if rack_scale:
        blocks = [d for d in plan.domains if len(d.nodes) > 1]
        lines = tuple(TopologyLine("BlockName", d.name, nodes=d.nodes) for d in blocks)
        sizes = tuple(sorted({len(d.nodes) for d in blocks}))
        return SlurmTopology("topology/block", lines, sizes)
    return SlurmTopology("topology/tree", _tree(plan))


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
            fabric_lines = _fabric_tree(fp, placed[fp.name])
            lines += fabric_lines
            tops.append(fabric_lines[-1].name)
    if len(tops) > 1:
        lines.append(TopologyLine("SwitchName", ROOT_SWITCH, switches=tuple(tops)))
    return tuple(lines)


def _fabric_tree(fp: FabricPlan, placed: list[Endpoint]) -> list[TopologyLine]:
    """Leaf groups of the `placed` endpoints of `fp`, then the switches above them, top last."""
    tree = fp.tree
    assert tree is not None
    groups: dict[str, list[str]] = defaultdict(list)
    su_of: dict[str, int] = {}
    for e in sorted(placed, key=lambda e: (e.su, e.slot)):
        name = f"{fp.name}-{leaf_group(tree, e)}"
        groups[name].append(e.name)
        su_of[name] = e.su
    lines = [TopologyLine("SwitchName", name, nodes=tuple(nodes)) for name, nodes in groups.items()]
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


def kubernetes_labels(plan: Plan, node: Node) -> dict[str, str]:
    """Labels a Kubernetes node gets from the plan (placement and failure domains)."""
    labels = {
        f"{LABEL_PREFIX}/sku": node.sku,
        f"{LABEL_PREFIX}/hall": str(node.position.hall),
        f"{LABEL_PREFIX}/row": str(node.position.row),
        f"{LABEL_PREFIX}/rack": node.rack,
        f"{LABEL_PREFIX}/su": str(node.su),
        "topology.kubernetes.io/zone": f"{plan.cluster.site.name}-h{node.position.hall}",
    }
    if node.nvlink_domain:
        labels[f"{LABEL_PREFIX}/nvlink-domain"] = node.nvlink_domain
    compute = plan.fabric_for(node, Role.COMPUTE)
    if compute is not None and compute.tree is not None:
        labels[f"{LABEL_PREFIX}/compute-fabric"] = compute.name
        labels[f"{LABEL_PREFIX}/leaf-group"] = leaf_group(compute.tree, compute.by_name[node.name])
    return dict(sorted(labels.items()))

"""Slurm topology.conf: every node under one leaf, one root over every switch, cabled leaves.

Read back from the rendered text, as slurmctld reads it. topology/tree needs every node under
some switch, and a job spans only nodes under one switch (topology.conf(5)); slurmctld warns of
nodes under no switch, of nodes under several leaves and of no switch reaching every node
(SchedMD slurm, src/plugins/topology/tree/switch_record.c).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bringup.catalog import Role
from bringup.plan import Plan, make_plan, node_expectation
from bringup.plan.scheduler import slurm_topology
from bringup.spec import load_cluster

from .conftest import cluster, compute_fabric, su_racks

STACKS = sorted((Path(__file__).resolve().parents[3] / "stacks").glob("Pulumi.*.yaml"))
_HOSTLIST = re.compile(r"([^,\[]+)(?:\[([^\]]+)\])?(?:,|$)")
_LEAF = re.compile(r"^(?P<fabric>.+)-p\d+-(?P<su>su\d+)-r\d+-(?P<leaf>l\d+)$")
_LEAF_GROUP = re.compile(r"^.+-su\d+-l\d+$")


def _ethernet(name: str, role: str, cidr: str) -> dict[str, object]:
    return {
        "name": name,
        "kind": "ethernet",
        "role": role,
        "switch": "sn4600c",
        "speed_gbps": 100,
        "nodes_per_su": 64,
        "cidr": cidr,
    }


CPU = {"sku": "cpu", "count": 1, "hall": 2, "row": 1, "rack": 1, "su": 1, "units": 4}
INBAND = _ethernet("inband", "inband", "10.64.0.0/14")
STORAGE = _ethernet("storage", "storage", "10.96.0.0/14")
HDR = compute_fabric(switch="qm8700", speed_gbps=200, nodes_per_su=20)
NVL72 = {"sku": "gb200-nvl72", "hall": 1, "row": 1, "su": 1}
SYNTHETIC = {
    # three tiers of compute and of in-band (sized for 40 SUs), CPU nodes on in-band
    "three-tier": cluster([*su_racks("hgx-h100", 40, racks_per_su=5), CPU], [HDR, INBAND]),
    # CPU nodes without an in-band fabric: their storage leaf places them
    "storage-only": cluster([*su_racks("hgx-h100", 1), CPU], [compute_fabric(), STORAGE]),
    # NVL72 racks and one CPU node: the CPU node would be in no block, so a tree
    "nvl72-and-cpu": cluster(
        [{**NVL72, "count": 2, "rack": 1}, CPU], [compute_fabric(nodes_per_su=64), INBAND]
    ),
    # an NVL72 rack after 16 HGX nodes in one SU: its trays reach two leaves (32 ports down)
    "split-domain": cluster(
        [
            {"sku": "hgx-h100", "count": 4, "hall": 1, "row": 1, "rack": 1, "su": 1},
            {**NVL72, "count": 1, "rack": 5},
        ],
        [compute_fabric(nodes_per_su=64)],
    ),
    # NVL72 racks partitioned into two domains of 9 trays: blocks of 9
    "partitioned": cluster(
        [{**NVL72, "count": 3, "rack": 1, "nvlink": {"domain_trays": 9}}],
        [compute_fabric(nodes_per_su=64)],
    ),
}
STACK_FILES = {p.name.removeprefix("Pulumi.").removesuffix(".yaml"): p for p in STACKS}


PLANS = {
    name: make_plan(SYNTHETIC[name] if name in SYNTHETIC else load_cluster(STACK_FILES[name]))
    for name in [*STACK_FILES, *SYNTHETIC]
}


@pytest.fixture(params=PLANS)
def plan(request: pytest.FixtureRequest) -> Plan:
    return PLANS[request.param]


@pytest.fixture(params=[n for n, p in PLANS.items() if slurm_topology(p).plugin == "topology/tree"])
def tree_plan(request: pytest.FixtureRequest) -> Plan:
    """The plans whose topology is a tree of switches (NVL72-only ones are blocks)."""
    return PLANS[request.param]


@pytest.fixture(
    params=[n for n, p in PLANS.items() if slurm_topology(p).plugin == "topology/block"]
)
def block_plan(request: pytest.FixtureRequest) -> Plan:
    """The plans whose topology is blocks: every node in a rack-scale NVLink domain."""
    return PLANS[request.param]


def test_each_topology_is_chosen_as_the_module_says() -> None:
    plugins = {name: slurm_topology(plan).plugin for name, plan in PLANS.items()}
    assert plugins == {
        "b200-8su": "topology/tree",
        "gb200-su": "topology/block",
        "gb300-100k": "topology/block",
        "h100-4su": "topology/tree",
        "lab": "topology/tree",
        "lab-k8s": "topology/tree",
        "mixed": "topology/tree",
        "three-tier": "topology/tree",
        "storage-only": "topology/tree",
        "nvl72-and-cpu": "topology/tree",
        "split-domain": "topology/tree",
        "partitioned": "topology/block",
    }


def _expand(hostlist: str) -> list[str]:
    """Names of a Slurm hostlist as the renderer writes it: ``a-n[1-2,4],b``."""
    names = []
    for match in _HOSTLIST.finditer(hostlist):
        prefix, ranges = match[1], match[2]
        if ranges is None:
            names.append(prefix)
            continue
        for part in ranges.split(","):
            first, _, last = part.partition("-")
            for number in range(int(first), int(last or first) + 1):
                names.append(f"{prefix}{number:0{len(first)}d}")
    return names


def _entries(plan: Plan) -> list[dict[str, str]]:
    text = slurm_topology(plan).render()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return [dict(part.split("=", 1) for part in line.split()) for line in lines]


def _tree(plan: Plan) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Nodes of each leaf switch and child switches of each other switch."""
    leaves: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    for entry in _entries(plan):
        name = entry["SwitchName"]
        assert name not in {**leaves, **parents}, f"switch {name} defined twice"
        if "Nodes" in entry:
            leaves[name] = _expand(entry["Nodes"])
        else:
            parents[name] = _expand(entry["Switches"])
    return leaves, parents


def test_expander_reads_the_renderers_hostlists() -> None:
    expected = ["a-n1", "a-n2", "a-n3", "a-n5", "b-t08", "b-t09", "b-t10", "c"]
    assert _expand("a-n[1-3,5],b-t[08-10],c") == expected


def test_every_node_is_under_exactly_one_leaf_or_block(plan: Plan) -> None:
    seen: dict[str, str] = {}
    for entry in _entries(plan):
        where = entry.get("SwitchName") or entry.get("BlockName")
        for node in _expand(entry.get("Nodes", "")):
            assert node not in seen, f"node {node}: under {seen[node]} and {where}"
            seen[node] = str(where)
    missing = [n.name for n in plan.nodes if n.name not in seen]
    assert not missing, f"{len(missing)} nodes under no switch or block: {missing[:8]}"
    unknown = sorted(set(seen) - set(plan.by_name))
    assert not unknown, f"names that are not nodes of the plan: {unknown[:8]}"


def test_one_root_reaches_every_switch_once(tree_plan: Plan) -> None:
    leaves, parents = _tree(tree_plan)
    parent_of: dict[str, str] = {}
    for parent, children in parents.items():
        for child in children:
            assert child in leaves or child in parents, f"switch {parent}: unknown child {child}"
            assert child not in parent_of, f"switch {child}: under {parent_of[child]} and {parent}"
            parent_of[child] = parent
    roots = sorted((set(leaves) | set(parents)) - set(parent_of))
    assert len(roots) == 1, f"expected one root switch, found {roots}"
    reached, todo = set(), [roots[0]]
    while todo:
        name = todo.pop()
        reached.add(name)
        todo += parents.get(name, [])
    assert reached == set(leaves) | set(parents)


def test_each_node_sits_under_the_leaf_its_cables_reach(tree_plan: Plan) -> None:
    plan = tree_plan
    leaves, parents = _tree(plan)
    parent_of = {child: parent for parent, children in parents.items() for child in children}
    leaf_of = {}
    for leaf, nodes in leaves.items():
        group = leaf  # a domain's own switch, or <group>-nodes, sits under the leaf group
        while not _LEAF_GROUP.match(group):
            group = parent_of[group]
        leaf_of.update(dict.fromkeys(nodes, group))
    for node in plan.nodes:
        nics = node_expectation(plan, node).to_json()["nics"]
        roles = {nic["role"] for nic in nics}
        role = next(r for r in (Role.COMPUTE, Role.INBAND, Role.STORAGE) if r.value in roles)
        cabled = set()
        for nic in nics:
            if nic["role"] == role.value:
                match = _LEAF.match(nic["leaf"])
                assert match, f"{node.name}: leaf {nic['leaf']} is not a tree leaf"
                cabled.add(f"{match['fabric']}-{match['su']}-{match['leaf']}")
        under = leaf_of.get(node.name)
        assert cabled == {under}, f"{node.name}: under {under}, cabled to {sorted(cabled)}"


def test_cpu_nodes_join_the_gpu_nodes_under_one_root() -> None:
    lines = slurm_topology(make_plan(load_cluster(STACK_FILES["lab"]))).render().splitlines()
    assert lines[1:] == [
        "SwitchName=lab-h1-r01-k02-nvl1 Nodes=lab-h1-r01-k02-t[01-18]",
        "SwitchName=compute-su01-l1-nodes Nodes=lab-h1-r01-k01-n[1-2]",
        "SwitchName=compute-su01-l1 Switches=lab-h1-r01-k02-nvl1,compute-su01-l1-nodes",
        "SwitchName=compute-spines Switches=compute-su01-l1",
        "SwitchName=inband-su01-l1 Nodes=lab-h1-r01-k03-n1",
        "SwitchName=inband-spines Switches=inband-su01-l1",
        "SwitchName=root Switches=compute-spines,inband-spines",
    ]
    mixed = slurm_topology(make_plan(load_cluster(STACK_FILES["mixed"]))).render().splitlines()
    assert (
        mixed[-1] == "SwitchName=root Switches=compute-hdr-spines,compute-ndr-spines,inband-spines"
    )


def test_one_fabric_needs_no_root() -> None:
    lines = slurm_topology(make_plan(load_cluster(STACK_FILES["h100-4su"]))).render().splitlines()
    assert lines[-1].startswith("SwitchName=compute-spines ")
    assert not any(line.startswith("SwitchName=root ") for line in lines)


def _rack_domains(plan: Plan) -> dict[str, tuple[str, ...]]:
    return {d.name: d.nodes for d in plan.domains if len(d.nodes) > 1}


def test_a_rack_scale_domain_has_switches_of_its_own_under_its_leaf_groups(
    tree_plan: Plan,
) -> None:
    leaves, parents = _tree(tree_plan)
    parent_of = {child: parent for parent, children in parents.items() for child in children}
    for domain, trays in _rack_domains(tree_plan).items():
        holders = {leaf for leaf, nodes in leaves.items() if set(nodes) & set(trays)}
        for leaf in holders:
            assert set(leaves[leaf]) <= set(trays), f"{leaf}: trays of {domain} and other nodes"
            assert leaf == domain or leaf.endswith(f"-{domain}"), f"{leaf}: not named for {domain}"
            assert _LEAF_GROUP.match(parent_of[leaf]), f"{leaf}: under {parent_of[leaf]}"
        assert sum(len(leaves[leaf]) for leaf in holders) == len(trays)
        if len(holders) == 1:
            assert holders == {domain}


def test_a_domain_cabled_to_two_leaves_is_split_between_them() -> None:
    lines = slurm_topology(PLANS["split-domain"]).render().splitlines()
    assert lines[1:] == [
        "SwitchName=compute-su01-l1-x-h1-r01-k05-nvl1 Nodes=x-h1-r01-k05-t[01-16]",
        "SwitchName=compute-su01-l1-nodes Nodes="
        + ",".join(f"x-h1-r01-k{k:02d}-n[1-4]" for k in range(1, 5)),
        "SwitchName=compute-su01-l1 Switches=compute-su01-l1-x-h1-r01-k05-nvl1,"
        "compute-su01-l1-nodes",
        "SwitchName=compute-su01-l2-x-h1-r01-k05-nvl1 Nodes=x-h1-r01-k05-t[17-18]",
        "SwitchName=compute-su01-l2 Switches=compute-su01-l2-x-h1-r01-k05-nvl1",
        "SwitchName=compute-spines Switches=compute-su01-l[1-2]",
    ]


def test_one_block_per_domain_none_smaller_than_the_base(block_plan: Plan) -> None:
    topology = slurm_topology(block_plan)
    blocks = {e["BlockName"]: _expand(e["Nodes"]) for e in _entries(block_plan) if "Nodes" in e}
    assert blocks == {d.name: list(d.nodes) for d in block_plan.domains}
    base = topology.block_sizes[0]
    # block_record.c: a block with fewer nodes than the first BlockSizes value is fatal
    assert base == min(len(nodes) for nodes in blocks.values())


def test_block_sizes_double_up_to_the_largest_aggregate_the_cluster_fills(
    block_plan: Plan,
) -> None:
    sizes = slurm_topology(block_plan).block_sizes
    blocks = len(block_plan.domains)
    assert sizes == tuple(sizes[0] * 2**k for k in range(len(sizes)))
    assert 2 ** (len(sizes) - 1) <= blocks < 2 ** len(sizes)
    assert len(sizes) <= 16  # block_record.c: 2**k with k > 15 is fatal


def test_block_sizes_of_the_stacks() -> None:
    assert slurm_topology(PLANS["gb200-su"]).block_sizes == (18, 36, 72, 144)
    assert slurm_topology(PLANS["partitioned"]).block_sizes == (9, 18, 36)
    largest = slurm_topology(PLANS["gb300-100k"]).block_sizes[-1]
    assert largest == 18 * 1024  # 1,392 racks: the largest aggregate is 1,024 of them


def test_neighbouring_racks_are_on_consecutive_lines(block_plan: Plan) -> None:
    """Slurm aggregates consecutive lines: blocks go by SU, then by position in it."""
    names = [e["BlockName"] for e in _entries(block_plan) if "Nodes" in e]
    firsts = [block_plan.node(block_plan.domain_by_name[n].nodes[0]) for n in names]
    keys = [(node.su, node.sort_key) for node in firsts]
    assert keys == sorted(keys)


def test_the_halves_of_a_partitioned_rack_aggregate_first() -> None:
    names = [e["BlockName"] for e in _entries(PLANS["partitioned"]) if "Nodes" in e]
    assert names == [f"x-h1-r01-k0{k}-nvl{d}" for k in (1, 2, 3) for d in (1, 2)]


def test_aggregates_of_eight_blocks_are_one_su_in_gb300_100k() -> None:
    plan = PLANS["gb300-100k"]
    names = [e["BlockName"] for e in _entries(plan) if "Nodes" in e]
    for i in range(0, len(names), 8):
        sus = {plan.node(plan.domain_by_name[n].nodes[0]).su for n in names[i : i + 8]}
        assert len(sus) == 1, f"blocks {i}-{i + 7} span SUs {sorted(sus)}"

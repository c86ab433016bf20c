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
SYNTHETIC = {
    # three tiers of compute and of in-band (sized for 40 SUs), CPU nodes on in-band
    "three-tier": cluster([*su_racks("hgx-h100", 40, racks_per_su=5), CPU], [HDR, INBAND]),
    # CPU nodes without an in-band fabric: their storage leaf places them
    "storage-only": cluster([*su_racks("hgx-h100", 1), CPU], [compute_fabric(), STORAGE]),
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
    leaves, _ = _tree(plan)
    leaf_of = {node: leaf for leaf, nodes in leaves.items() for node in nodes}
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
        "SwitchName=compute-su01-l1 Nodes=lab-h1-r01-k01-n[1-2],lab-h1-r01-k02-t[01-18]",
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

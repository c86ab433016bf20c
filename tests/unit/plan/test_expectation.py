"""Expected per-node state, addresses and refusals: what later layers read from the plan."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from bringup.catalog import load_catalog
from bringup.plan import Plan, PlanError, make_plan, node_expectation
from bringup.plan.scheduler import hostlist, kubernetes_labels, slurm_topology
from bringup.spec import Scheduler, load_cluster

from .conftest import cluster, compute_fabric, su_racks

STACKS = Path(__file__).resolve().parents[3] / "stacks"


def _stack(name: str):  # type: ignore[no-untyped-def]
    return make_plan(load_cluster(STACKS / f"Pulumi.{name}.yaml"))


LAB = _stack("lab")


def test_hgx_node_expects_catalog_gpus_and_rails_in_order() -> None:
    state = node_expectation(LAB, LAB.node("lab-h1-r01-k01-n2")).to_json()
    sku = load_catalog().sku("hgx-h100")
    assert sku.gpu is not None
    assert (state["gpu"]["count"], state["gpu"]["model"]) == (sku.gpu.count, sku.gpu.model)
    compute = [n for n in state["nics"] if n["fabric"] == "compute"]
    network = sku.network(sku.networks[0].role)
    assert network is not None
    assert [n["device"] for n in compute] == [p.device for p in network.ports]
    assert [n["rail"] for n in compute] == list(range(1, 9))
    assert {n["rate_gbps"] for n in compute} == {400}
    # slot 2 of SU 1: port 2 of the first leaf of each rail
    assert {(n["leaf"].split("-r")[-1], n["leaf_port"]) for n in compute} == {
        (f"{rail}-l1", 2) for rail in range(1, 9)
    }


def test_nic_address_lies_in_its_subnet_and_cable_is_findable() -> None:
    for node in LAB.nodes:
        for nic in node_expectation(LAB, node).to_json()["nics"]:
            subnet = IPv4Network(f"{nic['address']}/{nic['prefix']}", strict=False)
            assert IPv4Address(nic["address"]) not in (
                subnet.network_address,
                subnet.broadcast_address,
            )
            if nic["gateway"]:
                assert IPv4Address(nic["gateway"]) in subnet
                assert nic["gateway"] != nic["address"]
            cable = LAB.cables.cable_by_id(nic["cable"])
            assert cable is not None
            assert (cable.b_device, int(cable.b_port)) == (nic["leaf"], nic["leaf_port"])


def test_each_rail_has_a_table_of_its_own_numbered_by_role_plane_and_rail() -> None:
    for node in LAB.nodes:
        nics = node_expectation(LAB, node).nics
        tables = [n.table for n in nics]
        assert len(set(tables)) == len(tables), node.name
        base = {"compute": 1000, "storage": 2000, "inband": 3000}
        assert tables == [base[n.role.value] + 100 * (n.plane - 1) + n.rail for n in nics]


@pytest.mark.parametrize(
    ("declared", "mode", "mtu"),
    [({}, "datagram", 4092), ({"ipoib_mode": "connected"}, "connected", 65520),
     ({"ipoib_mode": "connected", "mtu": 32000}, "connected", 32000),
     ({"mtu": 2044}, "datagram", 2044)],
)  # fmt: skip
def test_ipoib_mode_and_mtu_are_the_fabric_s(
    declared: dict[str, object], mode: str, mtu: int
) -> None:
    racks = su_racks("hgx-h100", 1, racks_per_su=1)
    plan = make_plan(cluster(racks, [compute_fabric(**declared)]))
    nics = node_expectation(plan, plan.nodes[0]).nics
    assert {(n.ipoib_mode, n.mtu) for n in nics} == {(mode, mtu)}


def test_addresses_are_unique_across_the_cluster() -> None:
    plan = _stack("mixed")
    seen: dict[str, str] = {}
    for node in plan.nodes:
        state = node_expectation(plan, node).to_json()
        for address in [n["address"] for n in state["nics"]] + [state["bmc"]["address"]]:
            assert address not in seen, f"{address} of {node.name} also on {seen.get(address)}"
            seen[address] = node.name


def test_nvl72_tray_imex_peers_are_its_domain() -> None:
    state = node_expectation(LAB, LAB.node("lab-h1-r01-k02-t05")).to_json()
    nvlink = state["nvlink"]
    assert nvlink["imex"] is True
    assert nvlink["domain_gpus"] == 72
    assert len(nvlink["switch_trays"]) == 9
    peers = [p["name"] for p in nvlink["imex_peers"]]
    assert peers == [f"lab-h1-r01-k02-t{i:02d}" for i in range(1, 19)]
    assert all(p["address"] for p in nvlink["imex_peers"])
    assert state["management_address"] in {p["address"] for p in nvlink["imex_peers"]}


def _mixed(**scheduler: object) -> Plan:
    """The mixed stack (HGX A100 and H100, an NVL72 rack, CPU nodes) with `scheduler`."""
    spec = load_cluster(STACKS / "Pulumi.mixed.yaml")
    return make_plan(spec.model_copy(update={"scheduler": Scheduler(**scheduler)}))


@pytest.mark.parametrize(
    ("imex", "services", "stopped"),
    [
        ("host", ("nvidia-dcgm", "nvidia-imex"), ()),
        ("dra-driver", ("nvidia-dcgm",), ("nvidia-imex",)),
    ],
)
def test_the_host_runs_imex_unless_the_dra_driver_does(
    imex: str, services: tuple[str, ...], stopped: tuple[str, ...]
) -> None:
    plan = _mixed(kind="kubernetes", imex=imex)
    for node in plan.nodes:
        expected = node_expectation(plan, node)
        if node.sku == "gb200-nvl72":
            assert expected.nvlink is not None
            assert (expected.nvlink.imex, expected.nvlink.imex_owner) == (True, imex)
            assert expected.imex  # the domain runs IMEX either way, with its peers
            assert len(expected.nvlink.imex_peers) == 18
            assert expected.host_imex == (imex == "host")
            assert (expected.services, expected.stopped_services) == (services, stopped)
        else:  # no IMEX to own: an HGX node's services do not change with the owner
            assert not expected.host_imex
            assert "nvidia-imex" not in expected.services + expected.stopped_services


def test_nvlink_domain_partition_override() -> None:
    racks = [
        {
            "sku": "gb200-nvl72",
            "count": 1,
            "hall": 1,
            "row": 1,
            "rack": 1,
            "nvlink": {"domain_trays": 9},
        }
    ]
    plan = make_plan(cluster(racks, []))
    assert [(d.name, len(d.nodes), d.gpus) for d in plan.domains] == [
        ("x-h1-r01-k01-nvl1", 9, 36),
        ("x-h1-r01-k01-nvl2", 9, 36),
    ]


def test_mounts_follow_the_storage_fabric() -> None:
    plan = _stack("mixed")
    for node in plan.nodes:
        mounts = [m["mount"] for m in node_expectation(plan, node).to_json()["mounts"]]
        on_storage = node.name in plan.fabric("storage").by_name
        assert mounts == (["/home"] if on_storage else [])


def test_threshold_override_reaches_the_expectation() -> None:
    racks = su_racks("hgx-h100", 1, racks_per_su=1)
    plan = make_plan(
        cluster(
            racks,
            [compute_fabric()],
            overrides={"hgx-h100": {"thresholds": {"nccl_allreduce_busbw_gbs": 400}}},
        )
    )
    state = node_expectation(plan, plan.nodes[0]).to_json()
    assert state["thresholds"]["nccl_allreduce_busbw_gbs"] == 400


def test_incompatible_software_override_is_refused_naming_both_versions() -> None:
    racks = su_racks("hgx-h100", 1, racks_per_su=1)
    spec = cluster(
        racks, [compute_fabric()], overrides={"hgx-h100": {"software": {"cuda": "13.0"}}}
    )
    with pytest.raises(PlanError) as error:
        make_plan(spec)
    text = str(error.value)
    assert "13.0" in text
    assert "570" in text


def test_driver_override_moves_driver_versioned_packages() -> None:
    sku = load_catalog().sku("hgx-h100")
    assert sku.software is not None
    racks = su_racks("hgx-h100", 1, racks_per_su=1)
    spec = cluster(
        racks, [compute_fabric()], overrides={"hgx-h100": {"software": {"driver": "570.195.03"}}}
    )
    software = make_plan(spec).software["hgx-h100"]
    moved = [p for p in software.packages if p.version.startswith("570.195.03")]
    stale = [p for p in software.packages if p.version.startswith(sku.software.driver)]
    assert moved
    assert stale == []


def test_plane_beyond_three_tiers_is_refused_with_what_would_fit() -> None:
    racks = su_racks("gb300-nvl72", 174)
    fabric = compute_fabric(nodes_per_su=144, speed_gbps=400, cidr="10.0.0.0/9")
    with pytest.raises(PlanError) as error:
        make_plan(cluster(racks, [fabric]))
    text = str(error.value)
    assert "3,480 leaves" in text  # 174 SUs x 4 rails x ceil(144 / 32)
    assert "at most 2,048 leaves (65,536 host ports)" in text  # R²/2 and R³/4 at radix 64
    assert "planes: 2 at 200 Gb/s" in text
    assert "switch: q3400" in text
    assert "max_oversubscription" not in text  # pods cap leaves: no ratio makes this fit


def test_oversubscription_when_allowed_builds_a_reported_blocking_plane() -> None:
    racks = su_racks("gb300-nvl72", 140)  # 2,800 leaves non-blocking; 1,680 at 3:1
    fabric = compute_fabric(nodes_per_su=144, speed_gbps=400, cidr="10.0.0.0/9")
    with pytest.raises(PlanError, match=r"max_oversubscription: 3 \(a blocking fabric\)"):
        make_plan(cluster(racks, [fabric]))
    fabric["max_oversubscription"] = 3
    tree = make_plan(cluster(racks, [fabric])).fabric("compute").tree
    assert tree is not None
    assert tree.down > tree.up
    assert tree.oversubscription == f"{tree.down}:{tree.up}"


def test_su_overflow_and_small_cidr_are_refused() -> None:
    with pytest.raises(PlanError, match=r"SU 1 has 36 nodes .* more than its 32 slots"):
        make_plan(cluster(su_racks("hgx-h100", 1, racks_per_su=9), [compute_fabric()]))
    with pytest.raises(PlanError, match=r"fabrics.compute.cidr: 10.128.0.0/24 holds 0 SUs"):
        make_plan(cluster(su_racks("hgx-h100", 1), [compute_fabric(cidr="10.128.0.0/24")]))
    with pytest.raises(PlanError, match=r"design_sus: 1, but SU 2 has racks"):
        make_plan(cluster(su_racks("hgx-h100", 2), [compute_fabric(design_sus=1)]))


def test_gb300_100k_is_about_100k_gpus_on_more_than_qm9700_allows() -> None:
    plan = _stack("gb300-100k")
    assert 99_000 <= plan.gpus <= 101_000
    fp = plan.fabric("compute")
    assert fp.switch.id == "q3400" or fp.spec.planes > 1
    assert fp.tree is not None
    assert fp.tree.tiers == 3


def test_slurm_block_topology_for_nvl72_and_tree_for_hgx() -> None:
    block = slurm_topology(_stack("gb200-su"))
    assert block.plugin == "topology/block"
    assert len(block.lines) == 8
    assert block.block_sizes == (18, 36, 72, 144)  # 8 racks: blocks of 1, 2, 4 and 8 racks
    assert "BlockName=nvl1-h1-r01-k01-nvl1 Nodes=nvl1-h1-r01-k01-t[01-18]" in block.render()
    tree = slurm_topology(_stack("h100-4su")).render()
    assert (
        "SwitchName=compute-spines Switches=compute-su[01-04]-l1" not in tree
    )  # names are not nested
    assert "SwitchName=compute-spines Switches=compute-su01-l1,compute-su02-l1" in tree
    assert tree.count("SwitchName=") == 5


def test_hostlist_compresses_runs() -> None:
    assert hostlist(["a-n1", "a-n2", "a-n3", "b-t01", "b-t02", "c"]) == "a-n[1-3],b-t[01-02],c"
    assert hostlist(["a-n1", "a-n3"]) == "a-n[1,3]"
    assert hostlist(["a-n7"]) == "a-n7"


def test_kubernetes_labels_name_domain_rack_and_leaf_group() -> None:
    node = LAB.node("lab-h1-r01-k02-t07")
    labels = kubernetes_labels(LAB, node)
    assert labels["bringup.dev/nvlink-domain"] == "lab-h1-r01-k02-nvl1"
    assert labels["bringup.dev/rack"] == "lab-h1-r01-k02"
    assert labels["bringup.dev/leaf-group"] == "su01-l1"
    assert all(len(v) <= 63 for v in labels.values())

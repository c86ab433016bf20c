"""The shipped catalog loads and carries the figures of DOMAIN.md §1, §2 and §5."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bringup.catalog import Catalog, Role, SystemClass, load_catalog
from bringup.catalog.model import Host, Port, Sku

SKU_IDS = {
    "hgx-a100",
    "hgx-h100",
    "hgx-h200",
    "hgx-b200",
    "hgx-b300",
    "gb200-nvl72",
    "gb300-nvl72",
    "cpu",
}
SWITCH_IDS = {"qm8700", "qm9700", "q3400", "sn5600", "sn4600c", "sn2201"}
GPU_SKUS = sorted(SKU_IDS - {"cpu"})

# DOMAIN.md §5: XIDs that fail a node when seen within 2 hours.
XID_CRITICAL = (48, 56, 57, 58, 62, 63, 64, 65, 68, 69, 73, 74, 79, 80, 81, 92, 119, 120)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def sku_of(catalog: Catalog, sku_id: str) -> Sku:
    return catalog.sku(sku_id)


def test_catalog_holds_exactly_the_domain_skus_and_switches(catalog: Catalog) -> None:
    assert set(catalog.skus) == SKU_IDS
    assert set(catalog.switches) == SWITCH_IDS


def test_unknown_sku_error_names_the_known_ones(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match="hgx-h100"):
        catalog.sku("hgx-x999")


# DOMAIN.md §1: GPUs per unit, NVLink generation, links per GPU, MB/s per link, domain scope,
# NVSwitch chips, switch trays.
NVLINK_TABLE = [
    ("hgx-a100", 8, 3, 12, 25_000, "node", 6, 0),
    ("hgx-h100", 8, 4, 18, 26_562, "node", 4, 0),
    ("hgx-h200", 8, 4, 18, 26_562, "node", 4, 0),
    ("hgx-b200", 8, 5, 18, 53_125, "node", 2, 0),
    ("hgx-b300", 8, 5, 18, 53_125, "node", 2, 0),
    ("gb200-nvl72", 4, 5, 18, 53_125, "rack", 18, 9),
    ("gb300-nvl72", 4, 5, 18, 53_125, "rack", 18, 9),
]


@pytest.mark.parametrize(
    ("sku_id", "gpus", "gen", "links", "mbps", "scope", "chips", "trays"), NVLINK_TABLE
)
def test_gpu_and_nvlink_figures_match_domain(
    catalog: Catalog,
    sku_id: str,
    gpus: int,
    gen: int,
    links: int,
    mbps: int,
    scope: str,
    chips: int,
    trays: int,
) -> None:
    sku = sku_of(catalog, sku_id)
    assert sku.gpus_per_unit == gpus
    assert sku.nvlink is not None
    got = (
        sku.nvlink.generation,
        sku.nvlink.links_per_gpu,
        sku.nvlink.link_speed_mbps,
        sku.nvlink.scope,
        sku.nvlink.switch_chips,
        sku.nvlink.switch_trays,
    )
    assert got == (gen, links, mbps, scope, chips, trays)


def test_cpu_sku_has_no_gpu_nvlink_or_software(catalog: Catalog) -> None:
    sku = sku_of(catalog, "cpu")
    assert (sku.gpu, sku.nvlink, sku.software, sku.gpus_per_unit) == (None, None, None, 0)
    assert sku.thresholds.gpu_count == 0
    assert {n.role for n in sku.networks} == {Role.INBAND, Role.STORAGE, Role.OOB}


# nvidia-smi names and framebuffer sizes (fixtures/real captures and public captures).
GPU_TABLE = [
    ("hgx-a100", "NVIDIA A100-SXM4-80GB", "ampere", 81_920, 4),
    ("hgx-h100", "NVIDIA H100 80GB HBM3", "hopper", 81_559, 5),
    ("hgx-h200", "NVIDIA H200", "hopper", 143_771, 5),
    ("hgx-b200", "NVIDIA B200", "blackwell", 183_359, 5),
    ("hgx-b300", "NVIDIA B300 SXM6 AC", "blackwell-ultra", 275_040, 6),
    ("gb200-nvl72", "NVIDIA GB200", "blackwell", 189_471, 5),
    ("gb300-nvl72", "NVIDIA GB300", "blackwell-ultra", 284_208, 6),
]


@pytest.mark.parametrize(("sku_id", "model", "arch", "mib", "pcie_gen"), GPU_TABLE)
def test_gpu_identity_as_nvidia_smi_prints_it(
    catalog: Catalog, sku_id: str, model: str, arch: str, mib: int, pcie_gen: int
) -> None:
    gpu = sku_of(catalog, sku_id).gpu
    assert gpu is not None
    assert (gpu.model, gpu.architecture, gpu.memory_mib, gpu.pcie_gen, gpu.pcie_width) == (
        model,
        arch,
        mib,
        pcie_gen,
        16,
    )


# DOMAIN.md §1: scale-out NIC model, rails and speed.
COMPUTE_TABLE = [
    ("hgx-a100", "ConnectX-6", 8, 200),
    ("hgx-h100", "ConnectX-7", 8, 400),
    ("hgx-h200", "ConnectX-7", 8, 400),
    ("hgx-b200", "ConnectX-7", 8, 400),
    ("hgx-b300", "ConnectX-8", 8, 800),
    ("gb200-nvl72", "ConnectX-7", 4, 400),
    ("gb300-nvl72", "ConnectX-8", 4, 800),
]


@pytest.mark.parametrize(("sku_id", "model", "rails", "speed"), COMPUTE_TABLE)
def test_compute_network_matches_domain(
    catalog: Catalog, sku_id: str, model: str, rails: int, speed: int
) -> None:
    compute = sku_of(catalog, sku_id).network(Role.COMPUTE)
    assert compute is not None
    assert (compute.model, len(compute.ports), compute.speed_gbps) == (model, rails, speed)
    assert compute.link_layer == "infiniband"


def test_dgx_h100_rails_follow_the_user_guide(catalog: Catalog) -> None:
    compute = sku_of(catalog, "hgx-h100").network(Role.COMPUTE)
    assert compute is not None
    got = [(p.device, p.pci_bus) for p in compute.ports]
    assert got == [
        ("mlx5_0", 0x18),
        ("mlx5_3", 0x40),
        ("mlx5_4", 0x4F),
        ("mlx5_5", 0x5E),
        ("mlx5_6", 0x9A),
        ("mlx5_9", 0xC0),
        ("mlx5_10", 0xCE),
        ("mlx5_11", 0xDC),
    ]


@pytest.mark.parametrize("sku_id", sorted(SKU_IDS))
def test_every_sku_has_a_one_gig_bmc_oob_port(catalog: Catalog, sku_id: str) -> None:
    oob = sku_of(catalog, sku_id).network(Role.OOB)
    assert oob is not None
    assert (oob.model, oob.link_layer, oob.speed_gbps) == ("BMC", "ethernet", 1)
    assert [(p.device, p.pci_bus) for p in oob.ports] == [("bmc", 0)]


@pytest.mark.parametrize("sku_id", sorted(SKU_IDS))
def test_ports_are_unique_within_a_sku(catalog: Catalog, sku_id: str) -> None:
    ports = [p for n in sku_of(catalog, sku_id).networks for p in n.ports]
    devices = [p.device for p in ports]
    addresses = [(p.pci_domain, p.pci_bus, p.pci_function) for p in ports if p.device != "bmc"]
    assert len(devices) == len(set(devices))
    assert len(addresses) == len(set(addresses))


@pytest.mark.parametrize("device", ["mlx5,0", 'mlx5"0', "mlx5_0/1", "mlx5:0", "mlx5 0", ""])
def test_port_refuses_a_device_that_would_need_quoting_or_split_a_cable_id(device: str) -> None:
    Port.model_validate({"device": "mlx5_0", "pci_bus": 3})
    with pytest.raises(ValidationError, match="device"):
        Port.model_validate({"device": device, "pci_bus": 3})


RACK_TABLE = [
    ("hgx-a100", 4, False, 6_500),
    ("hgx-h100", 4, False, 10_200),
    ("hgx-h200", 4, False, 10_200),
    ("hgx-b200", 4, False, 14_300),
    ("hgx-b300", 4, False, 14_000),
    ("gb200-nvl72", 18, True, None),
    ("gb300-nvl72", 18, True, None),
]


@pytest.mark.parametrize(("sku_id", "per_rack", "fixed", "watts"), RACK_TABLE)
def test_rack_and_unit_power(
    catalog: Catalog, sku_id: str, per_rack: int, fixed: bool, watts: int | None
) -> None:
    sku = sku_of(catalog, sku_id)
    assert (sku.rack.units_per_rack, sku.rack.fixed) == (per_rack, fixed)
    if watts is not None:
        assert sku.power.unit_watts == watts


def rack_watts(sku: Sku) -> int:
    return sku.rack.units_per_rack * sku.power.unit_watts + sku.power.rack_overhead_watts


def test_power_reproduces_domain_rack_totals(catalog: Catalog) -> None:
    # DOMAIN.md §1: GB200 SU of 8 racks ~1.2 MW; GB300 rack up to 142 kW; 4 x DGX B300 ~56 kW.
    assert 8 * rack_watts(sku_of(catalog, "gb200-nvl72")) == pytest.approx(1_200_000, rel=0.05)
    assert rack_watts(sku_of(catalog, "gb300-nvl72")) == 142_000
    assert rack_watts(sku_of(catalog, "hgx-b300")) == 56_000


# DOMAIN.md §5, per SKU. None: DOMAIN gives no figure for that SKU.
THRESHOLD_TABLE = [
    (
        "hgx-a100",
        {
            "gpu_count": 8,
            "nccl_allreduce_busbw_gbs": 228,
            "ib_write_bw_gbps": 180,
            "nvbandwidth_h2d_gbs": 21,
            "nvbandwidth_d2d_gbs": 235,
            "ib_port_rate_gbps": 200,
        },
    ),
    (
        "hgx-h100",
        {
            "gpu_count": 8,
            "nccl_allreduce_busbw_gbs": 460,
            "nccl_multinode_busbw_expected_gbs": 450,
            "nccl_multinode_busbw_gbs": 400,
            "nccl_multinode_busbw_rma_gbs": 300,
            "ib_write_bw_gbps": 380,
            "ib_write_bw_bidir_gbps": 720,
            "ib_write_lat_p99_us": 4.2,
            "nvbandwidth_h2d_gbs": 48,
            "nvbandwidth_d2d_gbs": 335,
            "ib_port_rate_gbps": 400,
        },
    ),
    (
        "hgx-h200",
        {
            "gpu_count": 8,
            "nccl_allreduce_busbw_gbs": 431,
            "ib_write_bw_gbps": 360,
            "nvbandwidth_h2d_gbs": 48,
            "nvbandwidth_d2d_gbs": 335,
            "ib_port_rate_gbps": 400,
        },
    ),
    ("gb200-nvl72", {"gpu_count": 4, "gpus_per_nvlink_domain": 72, "ib_port_rate_gbps": 400}),
    (
        "gb300-nvl72",
        {
            "gpu_count": 4,
            "gpus_per_nvlink_domain": 72,
            "nccl_allreduce_busbw_expected_gbs": 937,
            "nccl_allreduce_busbw_gbs": 800,
            "nccl_allreduce_busbw_rma_gbs": 600,
            "nccl_multinode_busbw_expected_gbs": 200,
            "nccl_multinode_busbw_gbs": 180,
            "nccl_multinode_busbw_rma_gbs": 150,
            "ib_port_rate_gbps": 800,
        },
    ),
    ("hgx-b200", {"gpu_count": 8, "nccl_allreduce_busbw_gbs": None, "ib_port_rate_gbps": 400}),
    ("hgx-b300", {"gpu_count": 8, "nccl_allreduce_busbw_gbs": None, "ib_port_rate_gbps": 800}),
]


@pytest.mark.parametrize(("sku_id", "expected"), THRESHOLD_TABLE)
def test_per_sku_thresholds_match_domain(
    catalog: Catalog, sku_id: str, expected: dict[str, float | None]
) -> None:
    thresholds = sku_of(catalog, sku_id).thresholds
    got = {name: getattr(thresholds, name) for name in expected}
    assert got == expected


@pytest.mark.parametrize("sku_id", GPU_SKUS)
def test_common_thresholds_match_domain(catalog: Catalog, sku_id: str) -> None:
    t = sku_of(catalog, sku_id).thresholds
    got = (
        t.nvlink_inactive_max,
        t.ecc_uncorrected_max,
        t.ecc_sram_corrected_max,
        t.row_remap_pending_allowed,
        t.xid_critical,
        t.xid_window_hours,
        t.ib_link_flaps_max_24h,
        t.ib_symbol_errors_max_per_hour,
        t.dcgm_diag_level,
    )
    assert got == (0, 0, 10_000, False, XID_CRITICAL, 2.0, 4, 120, 3)


def test_nvl72_gpu_count_per_domain_is_trays_times_gpus(catalog: Catalog) -> None:
    for sku_id in ("gb200-nvl72", "gb300-nvl72"):
        sku = sku_of(catalog, sku_id)
        assert sku.system_class == SystemClass.NVL72
        assert sku.rack.units_per_rack * sku.gpus_per_unit == sku.thresholds.gpus_per_nvlink_domain


# DOMAIN.md §2: logical ports and ports per cage at each speed.
SWITCH_TABLE = [
    ("qm8700", "infiniband", 200, 40, 1),
    ("qm8700", "infiniband", 100, 80, 2),
    ("qm9700", "infiniband", 400, 64, 2),
    ("qm9700", "infiniband", 200, 128, 4),
    ("q3400", "infiniband", 800, 144, 2),
    ("q3400", "infiniband", 400, 288, 4),
    ("q3400", "infiniband", 200, 576, 8),
    ("sn5600", "ethernet", 800, 64, 1),
    ("sn5600", "ethernet", 400, 128, 2),
    ("sn5600", "ethernet", 100, 256, 4),
    ("sn4600c", "ethernet", 100, 64, 1),
    ("sn2201", "ethernet", 1, 48, 1),
    ("sn2201", "ethernet", 100, 4, 1),
]


@pytest.mark.parametrize(("switch_id", "layer", "speed", "ports", "per_cage"), SWITCH_TABLE)
def test_switch_modes_match_domain(
    catalog: Catalog, switch_id: str, layer: str, speed: int, ports: int, per_cage: int
) -> None:
    switch = catalog.switch(switch_id)
    mode = switch.mode(speed)
    assert switch.link_layer == layer
    assert mode is not None
    assert (mode.ports, mode.ports_per_cage) == (ports, per_cage)


def test_switch_has_no_mode_at_an_unsupported_speed(catalog: Catalog) -> None:
    assert catalog.switch("qm9700").mode(800) is None


@pytest.mark.parametrize("switch_id", sorted(SWITCH_IDS))
def test_switch_bom_fields_are_set(catalog: Catalog, switch_id: str) -> None:
    switch = catalog.switch(switch_id)
    assert switch.power_watts > 0
    assert switch.rack_units >= 1
    assert switch.source


# CUDA release notes: highest CUDA per driver branch.
@pytest.mark.parametrize(
    ("branch", "cuda_max", "imex", "has_nvlsm"),
    [
        ("535", "12.2", False, False),
        ("550", "12.4", True, False),
        ("570", "12.8", True, True),
        ("575", "12.9", True, True),
        ("580", "13.0", True, True),
    ],
)
def test_compatibility_branches(
    catalog: Catalog, branch: str, cuda_max: str, imex: bool, has_nvlsm: bool
) -> None:
    entry = next(b for b in catalog.compatibility.branches if b.branch == branch)
    assert (entry.cuda_max, entry.imex, bool(entry.nvlsm)) == (cuda_max, imex, has_nvlsm)
    assert entry.source


def test_compatibility_lists_every_architecture_and_adapter_in_use(catalog: Catalog) -> None:
    architectures = {a.name for a in catalog.compatibility.architectures}
    adapters = {a.name for a in catalog.compatibility.adapters}
    assert architectures == {"ampere", "hopper", "blackwell", "blackwell-ultra"}
    assert adapters == {"ConnectX-6", "ConnectX-6 Dx", "ConnectX-7", "ConnectX-8", "BlueField-3"}
    used = {n.model for s in catalog.skus.values() for n in s.networks if n.role != Role.OOB}
    assert used <= adapters


# The host each system ships with: CPU model, sockets, cores per socket, threads per core,
# system memory in GiB (the sources are in skus.yaml, beside each figure).
HOST_TABLE = [
    ("hgx-a100", "AMD EPYC 7742", 2, 64, 2, 2048),
    ("hgx-h100", "Intel Xeon Platinum 8480C", 2, 56, 2, 2048),
    ("hgx-h200", "Intel Xeon Platinum 8480C", 2, 56, 2, 2048),
    ("hgx-b200", "Intel Xeon Platinum 8570", 2, 56, 2, 2048),
    ("hgx-b300", "Intel Xeon 6776P", 2, 64, 2, 2048),
    ("gb200-nvl72", "NVIDIA Grace", 2, 72, 1, 960),
    ("gb300-nvl72", "NVIDIA Grace", 2, 72, 1, 960),
    ("cpu", "Intel Xeon Gold 6430", 2, 32, 2, 512),
]


@pytest.mark.parametrize(("sku_id", "cpu", "sockets", "cores", "threads", "gib"), HOST_TABLE)
def test_host_figures(
    catalog: Catalog, sku_id: str, cpu: str, sockets: int, cores: int, threads: int, gib: int
) -> None:
    host = sku_of(catalog, sku_id).host
    assert (host.cpu, host.sockets, host.cores_per_socket) == (cpu, sockets, cores)
    assert (host.threads_per_core, host.memory_gib) == (threads, gib)
    assert host.cpus == sockets * cores * threads


def test_host_table_covers_every_sku() -> None:
    assert {row[0] for row in HOST_TABLE} == SKU_IDS


@pytest.mark.parametrize("field", ["sockets", "cores_per_socket", "threads_per_core", "memory_gib"])
def test_host_refuses_a_count_of_zero(field: str) -> None:
    good = {
        "cpu": "x",
        "sockets": 2,
        "cores_per_socket": 8,
        "threads_per_core": 1,
        "memory_gib": 64,
    }
    Host.model_validate(good)
    with pytest.raises(ValidationError, match=field):
        Host.model_validate({**good, field: 0})

"""Typed shape of the hardware catalog: systems (SKUs), switches, the compatibility table."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SystemClass(StrEnum):
    """How a system is built: an HGX baseboard node, a rack-scale NVL72 tray, a CPU node."""

    HGX = "hgx"
    NVL72 = "nvl72"
    CPU = "cpu"


class LinkLayer(StrEnum):
    """Link layer of a NIC port or a fabric."""

    INFINIBAND = "infiniband"
    ETHERNET = "ethernet"


class Role(StrEnum):
    """What a network carries (DOMAIN.md §1: five logical networks on four physical fabrics)."""

    COMPUTE = "compute"
    STORAGE = "storage"
    INBAND = "inband"
    OOB = "oob"


class Gpu(_Frozen):
    """The GPUs of one node or tray."""

    model: str = Field(description="Name as nvidia-smi reports it, e.g. 'NVIDIA H100 80GB HBM3'.")
    architecture: str = Field(description="ampere, hopper, blackwell, blackwell-ultra.")
    memory_mib: int = Field(gt=0, description="Framebuffer per GPU as nvidia-smi reports it.")
    count: int = Field(gt=0, description="GPUs per node (HGX) or per tray (NVL72).")
    pcie_gen: int = Field(ge=3, le=6, description="Expected PCIe link generation.")
    pcie_width: int = Field(ge=1, le=16, description="Expected PCIe link width.")


class NvLink(_Frozen):
    """Shape of the NVLink domain a GPU belongs to."""

    generation: int = Field(ge=3, le=5)
    links_per_gpu: int = Field(gt=0)
    link_speed_mbps: int = Field(gt=0, description="Per-link bandwidth in MB/s, per direction.")
    scope: Literal["node", "rack"] = Field(description="Domain is one node or one rack.")
    switch_chips: int = Field(ge=0, description="NVSwitch chips per node (HGX) or per rack.")
    switch_trays: int = Field(default=0, ge=0, description="NVLink switch trays per rack.")


class Port(_Frozen):
    """One network port of a system, as the operating system names it."""

    device: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="RDMA device, e.g. 'mlx5_0'; the BMC port uses 'bmc'. Letters, digits, "
        "'_', '.' and '-': it stands unquoted in cable ids, plan.json and cabling.csv.",
    )
    pci_bus: int = Field(ge=0, le=255, description="PCI bus of the function; names the netdev.")
    pci_domain: int = Field(
        default=0, ge=0, le=0xFFFF, description="PCI domain; Grace trays put each NIC in its own."
    )
    pci_function: int = Field(
        default=0, ge=0, le=7, description="PCI function; the port of a dual-port adapter."
    )


class Network(_Frozen):
    """The ports a system brings to one role of network."""

    role: Role
    model: str = Field(description="Adapter, e.g. 'ConnectX-7', 'BlueField-3', 'BMC'.")
    link_layer: LinkLayer
    speed_gbps: int = Field(gt=0, description="Native port speed.")
    ports: tuple[Port, ...] = Field(min_length=1, description="In rail order.")


class Power(_Frozen):
    """Electrical draw used by the bill of materials."""

    unit_watts: int = Field(ge=0, description="Per node or tray at maximum load.")
    rack_overhead_watts: int = Field(
        default=0, ge=0, description="Per rack beyond its nodes: NVLink switch trays, ToRs."
    )
    source: str


class Host(_Frozen):
    """The host side of a node or compute tray, as the scheduler counts it.

    >>> Host(cpu="Intel Xeon Platinum 8480C", sockets=2, cores_per_socket=56,
    ...      threads_per_core=2, memory_gib=2048).cpus
    224
    """

    cpu: str = Field(min_length=1, description="CPU model, e.g. 'Intel Xeon Platinum 8480C'.")
    sockets: int = Field(gt=0, description="CPU sockets (Grace: one per superchip).")
    cores_per_socket: int = Field(gt=0, description="Physical cores per socket.")
    threads_per_core: int = Field(
        gt=0, le=8, description="Hardware threads per core as shipped (SMT on: 2; Arm: 1)."
    )
    memory_gib: int = Field(gt=0, description="Installed system memory in GiB (not GPU memory).")

    @property
    def cores(self) -> int:
        """Physical cores of the host."""
        return self.sockets * self.cores_per_socket

    @property
    def cpus(self) -> int:
        """Logical CPUs of the host (what Slurm calls CPUs)."""
        return self.cores * self.threads_per_core


class Rack(_Frozen):
    """How the system fills a rack."""

    units_per_rack: int = Field(gt=0, description="Nodes (or compute trays) per rack by default.")
    fixed: bool = Field(description="True when the rack is one product (NVL72): count is fixed.")


class Package(_Frozen):
    """One Debian/Ubuntu package of the pinned stack, at its exact repository version.

    >>> Package(name="nvidia-fabricmanager-570", version="570.172.08-1").hold
    True
    """

    name: str = Field(description="Package name as apt knows it.")
    version: str = Field(description="Exact version as apt prints it, epoch included.")
    hold: bool = Field(default=True, description="apt-mark hold after install.")


class Software(_Frozen):
    """Pinned software stack for the SKU; versions are exact package versions."""

    driver_branch: str
    driver: str
    cuda: str = Field(description="CUDA toolkit major.minor.")
    fabric_manager: bool = Field(description="Needs nvidia-fabricmanager (NVSwitch systems).")
    nvlsm: str | None = Field(default=None, description="NVLink subnet manager version, if needed.")
    imex: bool = Field(default=False, description="Needs nvidia-imex (rack-scale domains).")
    doca_ofed: str | None = Field(default=None, description="DOCA-OFED host package version.")
    dcgm: str | None = Field(default=None, description="DCGM version.")
    packages: tuple[Package, ...] = Field(
        default=(), description="NVIDIA and NVIDIA Networking packages making up the stack."
    )


class Thresholds(_Frozen):
    """Validation thresholds of DOMAIN.md §5; None where the check does not apply."""

    gpu_count: int = Field(ge=0)
    nvlink_inactive_max: int = Field(default=0, ge=0)
    nccl_allreduce_busbw_gbs: float | None = Field(default=None, description="Single node/domain.")
    nccl_allreduce_busbw_expected_gbs: float | None = Field(
        default=None, description="Single node/domain: typical healthy value."
    )
    nccl_allreduce_busbw_rma_gbs: float | None = Field(
        default=None, description="Single node/domain: below this the hardware goes to RMA."
    )
    nccl_multinode_busbw_gbs: float | None = None
    nccl_multinode_busbw_expected_gbs: float | None = None
    nccl_multinode_busbw_rma_gbs: float | None = None
    ib_write_bw_gbps: float | None = Field(default=None, description="Per HCA, loopback.")
    ib_write_bw_bidir_gbps: float | None = Field(
        default=None, description="Per HCA, bidirectional, pairwise between nodes."
    )
    ib_write_lat_p99_us: float | None = Field(default=None, description="Pairwise p99 latency.")
    ib_port_rate_gbps: int | None = Field(
        default=None, description="Rate an ACTIVE compute port must report."
    )
    gpus_per_nvlink_domain: int | None = Field(
        default=None, ge=0, description="GPUs one NVLink domain must hold."
    )
    nvbandwidth_h2d_gbs: float | None = None
    nvbandwidth_d2d_gbs: float | None = None
    ecc_uncorrected_max: int = 0
    ecc_sram_corrected_max: int = 10_000
    row_remap_pending_allowed: bool = False
    xid_critical: tuple[int, ...] = ()
    xid_window_hours: float = 2.0
    ib_link_flaps_max_24h: int = 4
    ib_symbol_errors_max_per_hour: int = 120
    dcgm_diag_level: int = Field(default=2, ge=1, le=4, description="Level for burn-in.")

    def overridden(self, changes: dict[str, object]) -> Thresholds:
        """Return a copy with `changes` applied, validated like the catalog itself."""
        return Thresholds.model_validate({**self.model_dump(), **changes})


class Sku(_Frozen):
    """One system of DOMAIN.md §1."""

    id: str
    name: str
    system_class: SystemClass
    gpu: Gpu | None
    nvlink: NvLink | None
    networks: tuple[Network, ...]
    host: Host
    rack: Rack
    power: Power
    software: Software | None
    thresholds: Thresholds
    sources: tuple[str, ...] = ()

    def network(self, role: Role) -> Network | None:
        """The ports this SKU brings to `role`, or None."""
        return next((n for n in self.networks if n.role == role), None)

    @property
    def gpus_per_unit(self) -> int:
        """GPUs per node or tray (0 for CPU nodes)."""
        return self.gpu.count if self.gpu else 0


class SwitchMode(_Frozen):
    """Logical ports a switch offers at one speed."""

    speed_gbps: int = Field(gt=0)
    ports: int = Field(gt=0)
    ports_per_cage: int = Field(gt=0, description="Logical ports carried by one cage/transceiver.")


class Switch(_Frozen):
    """One switch model of DOMAIN.md §2."""

    id: str
    name: str
    link_layer: LinkLayer
    modes: tuple[SwitchMode, ...] = Field(min_length=1)
    power_watts: int = Field(ge=0)
    rack_units: int = Field(gt=0)
    source: str

    def mode(self, speed_gbps: int) -> SwitchMode | None:
        """The port layout at `speed_gbps`, or None when the switch cannot run at it."""
        return next((m for m in self.modes if m.speed_gbps == speed_gbps), None)


class BranchCompat(_Frozen):
    """What one driver branch works with."""

    branch: str
    cuda_max: str = Field(description="Highest CUDA major.minor the branch supports.")
    nvlsm: tuple[str, ...] = Field(default=(), description="NVLSM versions qualified with it.")
    imex: bool = Field(description="nvidia-imex ships for this branch.")
    dcgm_min: str = Field(description="Lowest DCGM version that supports the branch.")
    doca_ofed: tuple[str, ...] = Field(description="DOCA-OFED major.minor lines qualified.")
    source: str


class ArchitectureCompat(_Frozen):
    """Minimum versions a GPU architecture or adapter needs."""

    name: str
    driver_branch_min: str | None = None
    dcgm_min: str | None = None
    doca_ofed_min: str | None = None
    source: str


class Compatibility(_Frozen):
    """The compatibility table checked at plan time."""

    branches: tuple[BranchCompat, ...]
    architectures: tuple[ArchitectureCompat, ...]
    adapters: tuple[ArchitectureCompat, ...]

"""What `nvidia-smi -q` says about each GPU, shared by the text and the XML parser.

A value the driver prints as N/A (or does not print at all) is None: absence is not zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class EccCounts:
    """One ECC counter set, volatile (since the last driver load) or aggregate (lifetime)."""

    sram_correctable: int | None = None
    sram_uncorrectable: int | None = None  # pre-Hopper drivers: one combined SRAM counter
    sram_uncorrectable_parity: int | None = None
    sram_uncorrectable_secded: int | None = None
    dram_correctable: int | None = None
    dram_uncorrectable: int | None = None

    @property
    def sram_uncorrectable_total(self) -> int | None:
        """SRAM uncorrectable errors, whichever way the driver splits them."""
        parts = [self.sram_uncorrectable_parity, self.sram_uncorrectable_secded]
        if self.sram_uncorrectable is not None:
            return self.sram_uncorrectable
        if all(part is None for part in parts):
            return None
        return sum(part or 0 for part in parts)

    @property
    def uncorrectable_total(self) -> int | None:
        """SRAM plus DRAM uncorrectable errors; None when the driver printed neither."""
        parts = [self.sram_uncorrectable_total, self.dram_uncorrectable]
        if all(part is None for part in parts):
            return None
        return sum(part or 0 for part in parts)

    @property
    def correctable_total(self) -> int | None:
        """SRAM plus DRAM correctable errors; None when the driver printed neither."""
        parts = [self.sram_correctable, self.dram_correctable]
        if all(part is None for part in parts):
            return None
        return sum(part or 0 for part in parts)


@dataclass(frozen=True, slots=True)
class EccErrors:
    """The ECC Errors section."""

    volatile: EccCounts
    aggregate: EccCounts
    sram_threshold_exceeded: bool | None = None
    aggregate_uncorrectable_sram_sources: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetiredPages:
    """Retired Pages (pre-Ampere page retirement); N/A on GPUs that remap rows instead."""

    single_bit_ecc: int | None
    double_bit_ecc: int | None
    pending: bool | None


@dataclass(frozen=True, slots=True)
class RemappedRows:
    """Remapped Rows (Ampere and later): a pending remap needs a GPU reset, a failure an RMA."""

    correctable: int | None
    uncorrectable: int | None
    pending: bool | None
    failure: bool | None
    histogram: Mapping[str, int] = field(default_factory=dict)  # "max", "high", ... -> banks


@dataclass(frozen=True, slots=True)
class Fabric:
    """The Fabric section (NVSwitch / NVLink-domain systems): registration state and health."""

    state: str | None
    status: str | None
    clique_id: str | None = None
    cluster_uuid: str | None = None
    health: Mapping[str, str] = field(default_factory=dict)  # "Summary" -> "Healthy", ...

    @property
    def health_summary(self) -> str | None:
        """Health/Summary (Healthy, Unhealthy, N/A), or None when the driver has no Health."""
        return next((v for k, v in self.health.items() if k.lower() == "summary"), None)


@dataclass(frozen=True, slots=True)
class PcieLink:
    """PCIe generation and width, current and maximum."""

    gen_current: int | None
    gen_max: int | None
    width_current: int | None
    width_max: int | None
    gen_device_max: int | None = None
    gen_host_max: int | None = None
    replays: int | None = None

    @property
    def downgraded(self) -> bool:
        """True when the link runs below its maximum generation or width."""
        pairs = [(self.gen_current, self.gen_max), (self.width_current, self.width_max)]
        return any(cur is not None and top is not None and cur < top for cur, top in pairs)


@dataclass(frozen=True, slots=True)
class Temperatures:
    """Temperatures in degrees C."""

    gpu: int | None
    memory: int | None = None
    gpu_tlimit: int | None = None
    shutdown: int | None = None
    slowdown: int | None = None


@dataclass(frozen=True, slots=True)
class Power:
    """Power readings in W."""

    draw: float | None
    limit: float | None
    instant: float | None = None
    default_limit: float | None = None
    min_limit: float | None = None
    max_limit: float | None = None


@dataclass(frozen=True, slots=True)
class Clocks:
    """Clocks in MHz."""

    graphics: int | None
    sm: int | None
    memory: int | None
    video: int | None = None


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """One process with a context on a GPU."""

    pid: int
    type: str
    name: str
    used_memory_mib: int | None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """One GPU of an `nvidia-smi -q` report (text or XML).

    `fields` keeps every value as printed, keyed by its section path ("PCI/Bus Id" in text,
    "pci/pci_bus_id" in XML), for what the typed fields do not carry.
    """

    index: int  # position in the report, which is the NVML index
    bus_id: str | None  # None for an excerpt that lost its "GPU <bus id>" line
    name: str | None
    serial: str | None
    uuid: str | None
    minor_number: int | None = None
    vbios_version: str | None = None
    module_id: int | None = None
    persistence_mode: bool | None = None
    mig_mode: str | None = None
    mig_devices: int = 0
    ecc_mode: str | None = None
    pcie: PcieLink | None = None
    temperatures: Temperatures | None = None
    power: Power | None = None
    clocks: Clocks | None = None
    max_clocks: Clocks | None = None
    clock_event_reasons: Mapping[str, bool] = field(default_factory=dict)
    fb_total_mib: int | None = None
    fb_used_mib: int | None = None
    utilization_gpu: int | None = None
    ecc: EccErrors | None = None
    retired_pages: RetiredPages | None = None
    remapped_rows: RemappedRows | None = None
    fabric: Fabric | None = None
    processes: tuple[GpuProcess, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def active_clock_event_reasons(self) -> tuple[str, ...]:
        """Names of the clock event (throttle) reasons that are active, 'gpu_idle' aside."""
        return tuple(
            sorted(
                name for name, on in self.clock_event_reasons.items() if on and name != "gpu_idle"
            )
        )


@dataclass(frozen=True, slots=True)
class NvidiaSmiReport:
    """An `nvidia-smi -q` report: header values and one GpuInfo per GPU section."""

    timestamp: str | None
    driver_version: str | None
    cuda_version: str | None
    attached_gpus: int | None
    gpus: tuple[GpuInfo, ...]
    elided: bool = False  # the text holds "[...]" elisions: absent values prove nothing

    def gpu(self, bus_id: str) -> GpuInfo:
        """The GPU with this bus id (case-insensitive), or KeyError."""
        for gpu in self.gpus:
            if gpu.bus_id is not None and gpu.bus_id.lower() == bus_id.lower():
                return gpu
        raise KeyError(bus_id)


# Display names of the clock event reasons in the text report -> the names the XML and the
# CSV query use, so that every format yields the same keys.
CLOCK_REASON_KEYS = {
    "idle": "gpu_idle",
    "applications clocks setting": "applications_clocks_setting",
    "sw power cap": "sw_power_cap",
    "hw slowdown": "hw_slowdown",
    "hw thermal slowdown": "hw_thermal_slowdown",
    "hw power brake slowdown": "hw_power_brake_slowdown",
    "sync boost": "sync_boost",
    "sw thermal slowdown": "sw_thermal_slowdown",
    "display clock setting": "display_clocks_setting",
}


def clock_reason_key(display_name: str) -> str:
    """Canonical key of a clock event reason ('SW Power Cap' -> 'sw_power_cap')."""
    lowered = display_name.strip().lower()
    return CLOCK_REASON_KEYS.get(lowered, "_".join(lowered.split()))

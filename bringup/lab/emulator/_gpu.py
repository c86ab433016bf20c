"""Facts about one emulated GPU that several nvidia-smi views print the same way.

The profile holds what bringup plans and faults change (serials, links, ECC, rows); the static
board facts below (device ids, VBIOS, part numbers) are those of the real boards' captures, or a
documented value where the lab has no capture of that board.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ._base import bus_number, domain_spans_nodes, service_state

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import EccCounters, GpuProfile, Profile

ARCHITECTURE_NAME = {
    "ampere": "Ampere",
    "hopper": "Hopper",
    "blackwell": "Blackwell",
    "blackwell-ultra": "Blackwell",
}
COMPUTE_CAPABILITY = {
    "ampere": "8.0",
    "hopper": "9.0",
    "blackwell": "10.0",
    "blackwell-ultra": "10.3",
}


@dataclass(frozen=True)
class Board:
    """Static identity of a GPU board, as nvidia-smi -q prints it."""

    device_id: str
    subsystem_id: str
    vbios: str
    board_part: str
    gpu_part: str
    image: str
    ecc_object: str


# H100 and A100 values are those of the real captures (fixtures/real/nvidia-smi-q, -xml); the
# others follow the same pattern with the PCI device ids NVIDIA publishes for the boards.
_BOARDS = {
    "ampere": Board(
        "0x20B210DE",
        "0x147F10DE",
        "92.00.36.00.02",
        "692-2G506-0212-002",
        "20B2-895-A1",
        "G506.0212.00.01",
        "6.16",
    ),
    "hopper": Board(
        "0x233010DE",
        "0x16C110DE",
        "96.00.74.00.01",
        "692-2G520-0200-000",
        "2330-885-A1",
        "G520.0200.00.05",
        "7.16",
    ),
    "blackwell": Board(
        "0x290110DE",
        "0x199B10DE",
        "97.00.0B.00.01",
        "692-2G525-0220-000",
        "2901-886-A1",
        "G525.0220.00.02",
        "8.1",
    ),
    "blackwell-ultra": Board(
        "0x31C210DE",
        "0x21E710DE",
        "97.10.34.00.01",
        "692-2G545-0200-000",
        "31C2-886-A1",
        "G545.0200.00.01",
        "8.1",
    ),
}

THROTTLE_REASONS = (
    # (profile name, -q label, -q indent, CSV/XML name, bit of clocks_event_reasons.active)
    ("gpu_idle", "Idle", 8, "gpu_idle", 0x1),
    (
        "applications_clocks_setting",
        "Applications Clocks Setting",
        8,
        "applications_clocks_setting",
        0x2,
    ),
    ("sw_power_cap", "SW Power Cap", 8, "sw_power_cap", 0x4),
    ("hw_slowdown", "HW Slowdown", 8, "hw_slowdown", 0x8),
    ("hw_thermal_slowdown", "HW Thermal Slowdown", 12, "hw_thermal_slowdown", 0x40),
    ("hw_power_brake_slowdown", "HW Power Brake Slowdown", 12, "hw_power_brake_slowdown", 0x80),
    ("sync_boost", "Sync Boost", 8, "sync_boost", 0x10),
    ("sw_thermal_slowdown", "SW Thermal Slowdown", 8, "sw_thermal_slowdown", 0x20),
    ("display_clock_setting", "Display Clock Setting", 8, "display_clocks_setting", 0x100),
)
RESERVED_MIB = 551  # FB Memory Usage/Reserved of an idle H100 (535 capture)
BANKS = 2560  # Bank Remap Availability Histogram/Max of an H100 with no remapped row


# Products that share an architecture's board layout but have their own PCI device id.
_DEVICE_IDS = {"H200": "0x233510DE", "GB200": "0x294110DE", "B300": "0x318210DE",
               "GB300": "0x31C210DE"}  # fmt: skip


def board(gpu: GpuProfile) -> Board:
    """The static identity of `gpu`'s board."""
    found = _BOARDS.get(str(gpu.get("architecture")), _BOARDS["hopper"])
    words = str(gpu.get("name", "")).split()
    product = words[1] if len(words) > 1 else ""
    device_id = _DEVICE_IDS.get(product)
    if device_id is None:
        return found
    return replace(found, device_id=device_id, gpu_part=f"{device_id[2:6]}-886-A1")


def architecture(gpu: GpuProfile) -> str:
    """'Hopper', 'Ampere'... as nvidia-smi names the architecture."""
    return ARCHITECTURE_NAME.get(str(gpu.get("architecture")), "Unknown")


def enabled(value: object) -> str:
    """True -> 'Enabled', False -> 'Disabled'."""
    return "Enabled" if value else "Disabled"


def yes_no(value: object) -> str:
    """True -> 'Yes', False -> 'No'."""
    return "Yes" if value else "No"


def ecc(gpu: GpuProfile) -> EccCounters:
    """The profile's ECC counters (all zero on a GPU that records none)."""
    return gpu.get("ecc") or _NO_ECC


_NO_ECC: EccCounters = {
    "volatile_corrected": 0,
    "volatile_uncorrected": 0,
    "aggregate_corrected": 0,
    "aggregate_uncorrected": 0,
    "sram_corrected": 0,
    "sram_uncorrected": 0,
}


def dram_ecc(gpu: GpuProfile) -> dict[str, dict[str, int]]:
    """DRAM ECC counts by scope ('volatile', 'aggregate') and kind ('corrected', 'uncorrected')."""
    c = ecc(gpu)
    return {
        "volatile": {
            "corrected": c["volatile_corrected"],
            "uncorrected": c["volatile_uncorrected"],
        },
        "aggregate": {
            "corrected": c["aggregate_corrected"],
            "uncorrected": c["aggregate_uncorrected"],
        },
    }


def ecc_totals(gpu: GpuProfile) -> dict[str, int]:
    """ECC totals as the CSV query reports them: DRAM (the profile's counters) plus SRAM."""
    c = ecc(gpu)
    return {
        "corrected.volatile": c["volatile_corrected"] + c["sram_corrected"],
        "uncorrected.volatile": c["volatile_uncorrected"] + c["sram_uncorrected"],
        "corrected.aggregate": c["aggregate_corrected"] + c["sram_corrected"],
        "uncorrected.aggregate": c["aggregate_uncorrected"] + c["sram_uncorrected"],
    }


@dataclass(frozen=True)
class Remapper:
    """A GPU's row remapper as nvidia-smi shows it: counts, flags and the bank histogram."""

    correctable: int
    uncorrectable: int
    pending: bool
    failure: bool

    @property
    def histogram(self) -> dict[str, int]:
        """Banks by remaining remap availability (Max, High, Partial, Low, None)."""
        used = min(self.correctable + self.uncorrectable, BANKS)
        return {"Max": BANKS - used, "High": used, "Partial": 0, "Low": 0, "None": 0}


def remap(gpu: GpuProfile) -> Remapper:
    """Row remapper state: counts, pending/failure flags and the bank histogram."""
    rows = gpu.get("row_remap")
    if rows is None:
        return Remapper(0, 0, pending=False, failure=False)
    return Remapper(rows["correctable"], rows["uncorrectable"], rows["pending"], rows["failure"])


def memory(gpu: GpuProfile) -> dict[str, int]:
    """FB memory in MiB: total, reserved, used, free."""
    total = int(gpu.get("memory_total_mib") or 0)
    used = int(gpu.get("memory_used_mib") or 0)
    reserved = min(RESERVED_MIB, total)
    return {
        "total": total,
        "reserved": reserved,
        "used": used,
        "free": max(total - reserved - used, 0),
    }


def throttle_active(gpu: GpuProfile) -> set[str]:
    """The clock event (throttle) reasons active on `gpu`, by profile name."""
    return {str(reason) for reason in gpu.get("throttle_reasons") or []}


def throttle_mask(gpu: GpuProfile) -> int:
    """clocks_event_reasons.active as a bit mask."""
    active = throttle_active(gpu)
    return sum(bit for name, _, _, _, bit in THROTTLE_REASONS if name in active)


def clocks(gpu: GpuProfile) -> dict[str, int]:
    """Clocks in MHz: current SM/graphics/memory and their maxima."""
    values = gpu.get("clocks") or {}
    sm = int(values.get("sm_mhz") or 0)
    mem = int(values.get("mem_mhz") or 0)
    return {
        "sm": sm,
        "graphics": sm,
        "memory": mem,
        "video": 1545 if sm else 0,
        "max_sm": int(values.get("max_sm_mhz") or sm),
        "max_memory": int(values.get("max_mem_mhz") or mem),
    }


def pcie(gpu: GpuProfile) -> dict[str, int]:
    """PCIe generation and width, current and maximum."""
    link = gpu.get("pcie") or {}
    gen = int(link.get("gen") or 0)
    width = int(link.get("width") or 0)
    return {
        "gen": gen,
        "width": width,
        "max_gen": int(link.get("max_gen") or gen),
        "max_width": int(link.get("max_width") or width),
    }


def active_links(gpu: GpuProfile) -> int:
    """How many of the GPU's NVLinks are up."""
    return sum(1 for link in gpu.get("nvlinks") or [] if link.get("active"))


def link_gbs(speed_mbps: object) -> str:
    """26562 -> '26.562', 25000 -> '25' (nvidia-smi nvlink -s prints GB/s without zeros)."""
    text = f"{float(str(speed_mbps)) / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def numa_node(gpu: GpuProfile) -> int:
    """The NUMA node of a GPU: the upper half of the PCI bus range hangs off the second CPU."""
    return 1 if bus_number(gpu) >= 0x80 else 0


def fabric(profile: Profile, gpu: GpuProfile) -> dict[str, str]:
    """The Fabric section: registration with the NVLink fabric and, on NVL72 trays, its health.

    An NVSwitch system whose fabric manager is not running leaves its GPUs 'In Progress'
    (fixtures/real/nvidia-smi-q fabric-section_state-in-progress); Ampere has no fabric state.
    """
    if str(gpu.get("architecture")) == "ampere":
        return {"State": "N/A", "Status": "N/A"}
    multi_node = domain_spans_nodes(profile)
    manager = service_state(profile, "nvidia-fabricmanager")
    registered = multi_node or manager in (None, "running")
    state = {
        "State": "Completed" if registered else "In Progress",
        "Status": "Success" if registered else "N/A",
    }
    if not multi_node:
        return state
    domain = profile.get("nvlink_domain")
    name = domain["name"] if domain else ""
    links = gpu.get("nvlinks") or []
    degraded = registered and any(not link.get("active") for link in links)
    state["CliqueId"] = str(sum(map(ord, name)) % 32767)
    state["ClusterUUID"] = _uuid(name)
    state["Summary"] = "Unhealthy" if degraded else "Healthy"
    state["Bandwidth"] = "Degraded" if degraded else "Full"
    return state


def _uuid(seed: str) -> str:
    """A stable UUID derived from `seed` (the cluster UUID of an NVLink domain)."""
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

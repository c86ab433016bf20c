"""`nvidia-smi -q`: the full text report, laid out as the 8 x H100 captures of driver 535.

Layout (fixtures/real/nvidia-smi-q/h100-80gb-hbm3_x8_535.183.01_gpud.txt): every key is padded
so that the colon sits in column 43 whatever its indent; sections are keys without a value. The
Fabric section of NVL72 trays adds CliqueId, ClusterUUID and Health at the same width
(fixtures/real/nvidia-smi-q/fabric-section_health-unhealthy_gb200-class...).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import _gpu
from ._base import bus_number, ctime, cuda_version, driver_version, lost_gpu_line, present

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

Row = tuple[int, str, str | None]
KEY_WIDTH = 42


def render(profile: Profile, selected: list[GpuProfile], stamp: datetime) -> str:
    """The whole report for the `selected` GPUs (a GPU off the bus prints NVML's error)."""
    lines = ["", "==============NVSMI LOG==============", ""]
    lines.append(_line(0, "Timestamp", ctime(stamp)))
    lines.append(_line(0, "Driver Version", driver_version(profile)))
    lines.append(_line(0, "CUDA Version", cuda_version(profile)))
    lines.append("")
    lines.append(_line(0, "Attached GPUs", str(len(profile.get("gpus") or []))))
    for gpu in selected:
        if not present(gpu):
            lines.append(lost_gpu_line(gpu))
            continue
        lines.append(f"GPU {gpu['pci_bus_id']}")
        lines.extend(_line(indent, key, value) for indent, key, value in gpu_rows(profile, gpu))
        lines.append("")
    return "\n".join(lines) + "\n"


def _line(indent: int, key: str, value: str | None) -> str:
    if value is None:
        return " " * indent + key
    return f"{' ' * indent}{key:<{KEY_WIDTH - indent}}: {value}"


def gpu_rows(profile: Profile, gpu: GpuProfile) -> list[Row]:
    """The rows of one GPU's block, in the order of the real report."""
    return [
        *_identity(profile, gpu),
        *_pci(gpu),
        (4, "Fan Speed", "N/A"),
        (4, "Performance State", "P0"),
        *_events(gpu),
        (4, "Sparse Operation Mode", "Disabled"),
        *_memory(gpu),
        *_ecc(gpu),
        *_remap(gpu),
        *_thermal_power(gpu),
        *_clocks(gpu),
        *_fabric(profile, gpu),
        (4, "Processes", "None"),
    ]


def _identity(profile: Profile, gpu: GpuProfile) -> list[Row]:
    b = _gpu.board(gpu)
    bus = bus_number(gpu)
    return [
        (4, "Product Name", str(gpu["name"])),
        (4, "Product Brand", "NVIDIA"),
        (4, "Product Architecture", _gpu.architecture(gpu)),
        (4, "Display Mode", "Disabled"),
        (4, "Display Active", "Disabled"),
        (4, "Persistence Mode", _gpu.enabled(gpu.get("persistence_mode"))),
        (4, "Addressing Mode", "None"),
        (4, "MIG Mode", None),
        (8, "Current", "Disabled"),
        (8, "Pending", "Disabled"),
        (4, "Accounting Mode", "Disabled"),
        (4, "Accounting Mode Buffer Size", "4000"),
        (4, "Driver Model", None),
        (8, "Current", "N/A"),
        (8, "Pending", "N/A"),
        (4, "Serial Number", str(gpu["serial"])),
        (4, "GPU UUID", str(gpu["uuid"])),
        (4, "Minor Number", str(gpu["index"])),
        (4, "VBIOS Version", b.vbios),
        (4, "MultiGPU Board", "No"),
        (4, "Board ID", f"0x{bus:x}00"),
        (4, "Board Part Number", b.board_part),
        (4, "GPU Part Number", b.gpu_part),
        (4, "FRU Part Number", "N/A"),
        (4, "Module ID", str(int(gpu["index"]) + 1)),
        (4, "Inforom Version", None),
        (8, "Image Version", b.image),
        (8, "OEM Object", "2.1"),
        (8, "ECC Object", b.ecc_object),
        (8, "Power Management Object", "N/A"),
        (4, "Inforom BBX Object Flush", None),
        (8, "Latest Timestamp", "N/A"),
        (8, "Latest Duration", "N/A"),
        (4, "GPU Operation Mode", None),
        (8, "Current", "N/A"),
        (8, "Pending", "N/A"),
        (4, "GSP Firmware Version", driver_version(profile)),
        (4, "GPU Virtualization Mode", None),
        (8, "Virtualization Mode", "None"),
        (8, "Host VGPU Mode", "N/A"),
        (4, "GPU Reset Status", None),
        (8, "Reset Required", "No"),
        (8, "Drain and Reset Recommended", "No"),
        (4, "IBMNPU", None),
        (8, "Relaxed Ordering Mode", "N/A"),
    ]


def _pci(gpu: GpuProfile) -> list[Row]:
    b = _gpu.board(gpu)
    link = _gpu.pcie(gpu)
    bus = bus_number(gpu)
    return [
        (4, "PCI", None),
        (8, "Bus", f"0x{bus:02X}"),
        (8, "Device", "0x00"),
        (8, "Domain", "0x0000"),
        (8, "Device Id", b.device_id),
        (8, "Bus Id", str(gpu["pci_bus_id"])),
        (8, "Sub System Id", b.subsystem_id),
        (8, "GPU Link Info", None),
        (12, "PCIe Generation", None),
        (16, "Max", str(link["max_gen"])),
        (16, "Current", str(link["gen"])),
        (16, "Device Current", str(link["gen"])),
        (16, "Device Max", str(link["max_gen"])),
        (16, "Host Max", "N/A"),
        (12, "Link Width", None),
        (16, "Max", f"{link['max_width']}x"),
        (16, "Current", f"{link['width']}x"),
        (8, "Bridge Chip", None),
        (12, "Type", "N/A"),
        (12, "Firmware", "N/A"),
        (8, "Replays Since Reset", str(int(gpu.get("pcie_replays") or 0))),
        (8, "Replay Number Rollovers", "0"),
        (8, "Tx Throughput", "0 KB/s"),
        (8, "Rx Throughput", "0 KB/s"),
        (8, "Atomic Caps Inbound", "N/A"),
        (8, "Atomic Caps Outbound", "N/A"),
    ]


def _events(gpu: GpuProfile) -> list[Row]:
    active = _gpu.throttle_active(gpu)
    rows: list[Row] = [(4, "Clocks Event Reasons", None)]
    for name, label, indent, _, _ in _gpu.THROTTLE_REASONS:
        rows.append((indent, label, "Active" if name in active else "Not Active"))
    return rows


def _memory(gpu: GpuProfile) -> list[Row]:
    fb = _gpu.memory(gpu)
    return [
        (4, "FB Memory Usage", None),
        (8, "Total", f"{fb['total']} MiB"),
        (8, "Reserved", f"{fb['reserved']} MiB"),
        (8, "Used", f"{fb['used']} MiB"),
        (8, "Free", f"{fb['free']} MiB"),
        (4, "BAR1 Memory Usage", None),
        (8, "Total", "131072 MiB"),
        (8, "Used", "1 MiB"),
        (8, "Free", "131071 MiB"),
        (4, "Conf Compute Protected Memory Usage", None),
        (8, "Total", "0 MiB"),
        (8, "Used", "0 MiB"),
        (8, "Free", "0 MiB"),
        (4, "Compute Mode", "Default"),
        (4, "Utilization", None),
        (8, "Gpu", f"{int(gpu.get('utilization_pct') or 0)} %"),
        (8, "Memory", "0 %"),
        (8, "Encoder", "0 %"),
        (8, "Decoder", "0 %"),
        (8, "JPEG", "0 %"),
        (8, "OFA", "0 %"),
        (4, "Encoder Stats", None),
        (8, "Active Sessions", "0"),
        (8, "Average FPS", "0"),
        (8, "Average Latency", "0"),
        (4, "FBC Stats", None),
        (8, "Active Sessions", "0"),
        (8, "Average FPS", "0"),
        (8, "Average Latency", "0"),
    ]


def _ecc(gpu: GpuProfile) -> list[Row]:
    c = _gpu.ecc(gpu)
    rows: list[Row] = [
        (4, "ECC Mode", None),
        (8, "Current", "Enabled"),
        (8, "Pending", "Enabled"),
        (4, "ECC Errors", None),
    ]
    dram = _gpu.dram_ecc(gpu)
    for scope in ("Volatile", "Aggregate"):
        dram_c = dram[scope.lower()]["corrected"]
        dram_u = dram[scope.lower()]["uncorrected"]
        rows += [
            (8, scope, None),
            (12, "SRAM Correctable", str(c["sram_corrected"])),
            (12, "SRAM Uncorrectable Parity", "0"),
            (12, "SRAM Uncorrectable SEC-DED", str(c["sram_uncorrected"])),
            (12, "DRAM Correctable", str(dram_c)),
            (12, "DRAM Uncorrectable", str(dram_u)),
        ]
    rows.append((12, "SRAM Threshold Exceeded", "No"))
    rows.append((8, "Aggregate Uncorrectable SRAM Sources", None))
    for source in ("L2", "SM", "Microcontroller", "PCIE", "Other"):
        count = c["sram_uncorrected"] if source == "Other" else 0
        rows.append((12, f"SRAM {source}", str(count)))
    return rows


def _remap(gpu: GpuProfile) -> list[Row]:
    r = _gpu.remap(gpu)
    rows: list[Row] = [
        (4, "Retired Pages", None),
        (8, "Single Bit ECC", "N/A"),
        (8, "Double Bit ECC", "N/A"),
        (8, "Pending Page Blacklist", "N/A"),
        (4, "Remapped Rows", None),
        (8, "Correctable Error", str(r.correctable)),
        (8, "Uncorrectable Error", str(r.uncorrectable)),
        (8, "Pending", _gpu.yes_no(r.pending)),
        (8, "Remapping Failure Occurred", _gpu.yes_no(r.failure)),
        (8, "Bank Remap Availability Histogram", None),
    ]
    rows += [(12, level, f"{count} bank(s)") for level, count in r.histogram.items()]
    return rows


def _thermal_power(gpu: GpuProfile) -> list[Row]:
    draw = float(gpu.get("power_draw_w") or 0.0)
    limit = float(gpu.get("power_limit_w") or 0.0)
    return [
        (4, "Temperature", None),
        (8, "GPU Current Temp", f"{int(gpu.get('temperature_c') or 0)} C"),
        (8, "GPU T.Limit Temp", "50 C"),
        (8, "GPU Shutdown T.Limit Temp", "-8 C"),
        (8, "GPU Slowdown T.Limit Temp", "-2 C"),
        (8, "GPU Max Operating T.Limit Temp", "0 C"),
        (8, "GPU Target Temperature", "N/A"),
        (8, "Memory Current Temp", f"{int(gpu.get('temperature_c') or 0) + 8} C"),
        (8, "Memory Max Operating T.Limit Temp", "0 C"),
        (4, "GPU Power Readings", None),
        (8, "Power Draw", f"{draw:.2f} W"),
        (8, "Current Power Limit", f"{limit:.2f} W"),
        (8, "Requested Power Limit", f"{limit:.2f} W"),
        (8, "Default Power Limit", f"{limit:.2f} W"),
        (8, "Min Power Limit", "200.00 W"),
        (8, "Max Power Limit", f"{limit:.2f} W"),
        (4, "Module Power Readings", None),
        *[(8, key, "N/A") for key in _POWER_KEYS],
    ]


_POWER_KEYS = (
    "Power Draw",
    "Current Power Limit",
    "Requested Power Limit",
    "Default Power Limit",
    "Min Power Limit",
    "Max Power Limit",
)


def _clocks(gpu: GpuProfile) -> list[Row]:
    k = _gpu.clocks(gpu)
    return [
        (4, "Clocks", None),
        (8, "Graphics", f"{k['graphics']} MHz"),
        (8, "SM", f"{k['sm']} MHz"),
        (8, "Memory", f"{k['memory']} MHz"),
        (8, "Video", f"{k['video']} MHz"),
        (4, "Applications Clocks", None),
        (8, "Graphics", f"{k['max_sm']} MHz"),
        (8, "Memory", f"{k['max_memory']} MHz"),
        (4, "Default Applications Clocks", None),
        (8, "Graphics", f"{k['max_sm']} MHz"),
        (8, "Memory", f"{k['max_memory']} MHz"),
        (4, "Deferred Clocks", None),
        (8, "Memory", "N/A"),
        (4, "Max Clocks", None),
        (8, "Graphics", f"{k['max_sm']} MHz"),
        (8, "SM", f"{k['max_sm']} MHz"),
        (8, "Memory", f"{k['max_memory']} MHz"),
        (8, "Video", "1545 MHz"),
        (4, "Max Customer Boost Clocks", None),
        (8, "Graphics", f"{k['max_sm']} MHz"),
        (4, "Clock Policy", None),
        (8, "Auto Boost", "N/A"),
        (8, "Auto Boost Default", "N/A"),
        (4, "Voltage", None),
        (8, "Graphics", "665.000 mV"),
    ]


def _fabric(profile: Profile, gpu: GpuProfile) -> list[Row]:
    state = _gpu.fabric(profile, gpu)
    rows: list[Row] = [(4, "Fabric", None)]
    for key in ("State", "Status", "CliqueId", "ClusterUUID"):
        if key in state:
            rows.append((8, key, state[key]))
    if "Summary" in state:
        rows += [
            (8, "Health", None),
            (12, "Summary", state["Summary"]),
            (12, "Bandwidth", state["Bandwidth"]),
        ]
    return rows

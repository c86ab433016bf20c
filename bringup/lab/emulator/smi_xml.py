"""`nvidia-smi -q -x`: the XML report (DTD nvsmi_device_v12, as driver 535 writes it).

Element names, order and 4-space indentation follow fixtures/real/nvidia-smi-xml (A100, 535.54.03
and 510.47.03: the lab has no real XML of H100 or newer). Elements an H100 prints differently from
an A100 follow the H100 text report and NVIDIA's DTD: split SRAM uncorrectable counters
(sram_uncorrectable_parity / _secded), the structured remapped_rows block, and, on NVL72 trays,
the fabric cliqueId / clusterUuid / health elements (named as in the CSV fields fabric.*).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import _gpu
from ._base import bus_number, ctime, cuda_version, driver_version, present

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

# xml.sax.saxutils.escape, without its import: it pulls in urllib and http (a third of the
# tool's start-up, and every emulated nvidia-smi call pays it)
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))


def escape(value: str) -> str:
    """Text content escaped for XML ('&', '<', '>')."""
    for char, entity in _ENTITIES:
        value = value.replace(char, entity)
    return value


Node = tuple[str, "str | list[Node]"]


def render(profile: Profile, selected: list[GpuProfile], stamp: datetime) -> str:
    """The XML document for the `selected` GPUs that are on the bus."""
    children: list[Node] = [
        ("timestamp", ctime(stamp)),
        ("driver_version", driver_version(profile)),
        ("cuda_version", cuda_version(profile)),
        ("attached_gpus", str(len(profile.get("gpus") or []))),
    ]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">',
        "<nvidia_smi_log>",
    ]
    for node in children:
        _emit(node, 1, lines)
    for gpu in (g for g in selected if present(g)):
        lines.append(f'    <gpu id="{gpu["pci_bus_id"]}">')
        for node in gpu_nodes(profile, gpu):
            _emit(node, 2, lines)
        lines.append("    </gpu>")
    lines.append("</nvidia_smi_log>")
    return "\n".join(lines) + "\n"


def _emit(node: Node, depth: int, lines: list[str]) -> None:
    tag, value = node
    pad = "    " * depth
    if isinstance(value, str):
        lines.append(f"{pad}<{tag}>{escape(value)}</{tag}>")
        return
    if not value:
        lines.append(f"{pad}<{tag} />")
        return
    lines.append(f"{pad}<{tag}>")
    for child in value:
        _emit(child, depth + 1, lines)
    lines.append(f"{pad}</{tag}>")


def _pairs(**values: str) -> list[Node]:
    return list(values.items())


def gpu_nodes(profile: Profile, gpu: GpuProfile) -> list[Node]:
    """The children of one <gpu> element, in DTD order."""
    b = _gpu.board(gpu)
    return [
        ("product_name", str(gpu["name"])),
        ("product_brand", "NVIDIA"),
        ("product_architecture", _gpu.architecture(gpu)),
        ("display_mode", "Disabled"),
        ("display_active", "Disabled"),
        ("persistence_mode", _gpu.enabled(gpu.get("persistence_mode"))),
        ("addressing_mode", "None"),
        ("mig_mode", _pairs(current_mig="Disabled", pending_mig="Disabled")),
        ("mig_devices", "None"),
        ("accounting_mode", "Disabled"),
        ("accounting_mode_buffer_size", "4000"),
        ("driver_model", _pairs(current_dm="N/A", pending_dm="N/A")),
        ("serial", str(gpu["serial"])),
        ("uuid", str(gpu["uuid"])),
        ("minor_number", str(gpu["index"])),
        ("vbios_version", b.vbios),
        ("multigpu_board", "No"),
        ("board_id", f"0x{bus_number(gpu):x}00"),
        ("board_part_number", b.board_part),
        ("gpu_part_number", b.gpu_part),
        ("gpu_fru_part_number", "N/A"),
        ("gpu_module_id", str(int(gpu["index"]) + 1)),
        (
            "inforom_version",
            _pairs(
                img_version=b.image, oem_object="2.1", ecc_object=b.ecc_object, pwr_object="N/A"
            ),
        ),
        ("gpu_operation_mode", _pairs(current_gom="N/A", pending_gom="N/A")),
        ("gsp_firmware_version", driver_version(profile)),
        ("gpu_virtualization_mode", _pairs(virtualization_mode="None", host_vgpu_mode="N/A")),
        ("gpu_reset_status", _pairs(reset_required="No", drain_and_reset_recommended="No")),
        ("ibmnpu", _pairs(relaxed_ordering_mode="N/A")),
        ("pci", _pci(gpu)),
        ("fan_speed", "N/A"),
        ("performance_state", "P0"),
        ("clocks_event_reasons", _events(gpu)),
        ("sparse_operation_mode", "Disabled"),
        ("fb_memory_usage", _fb(gpu)),
        ("bar1_memory_usage", _pairs(total="131072 MiB", used="1 MiB", free="131071 MiB")),
        ("cc_protected_memory_usage", _pairs(total="0 MiB", used="0 MiB", free="0 MiB")),
        ("compute_mode", "Default"),
        (
            "utilization",
            _pairs(
                gpu_util=f"{int(gpu.get('utilization_pct') or 0)} %",
                memory_util="0 %",
                encoder_util="0 %",
                decoder_util="0 %",
                jpeg_util="0 %",
                ofa_util="0 %",
            ),
        ),
        ("encoder_stats", _pairs(session_count="0", average_fps="0", average_latency="0")),
        ("fbc_stats", _pairs(session_count="0", average_fps="0", average_latency="0")),
        ("ecc_mode", _pairs(current_ecc="Enabled", pending_ecc="Enabled")),
        ("ecc_errors", _ecc(gpu)),
        ("retired_pages", _retired()),
        ("remapped_rows", _remap(gpu)),
        ("temperature", _temperature(gpu)),
        ("gpu_power_readings", _power(gpu)),
        ("clocks", _clocks(gpu, current=True)),
        ("max_clocks", _clocks(gpu, current=False)),
        ("fabric", _fabric(profile, gpu)),
        ("processes", []),
        ("accounted_processes", []),
    ]


def _pci(gpu: GpuProfile) -> list[Node]:
    b = _gpu.board(gpu)
    link = _gpu.pcie(gpu)
    gen: list[Node] = _pairs(
        max_link_gen=str(link["max_gen"]),
        current_link_gen=str(link["gen"]),
        device_current_link_gen=str(link["gen"]),
        max_device_link_gen=str(link["max_gen"]),
        max_host_link_gen="N/A",
    )
    widths = _pairs(max_link_width=f"{link['max_width']}x", current_link_width=f"{link['width']}x")
    return [
        ("pci_bus", f"{bus_number(gpu):02X}"),
        ("pci_device", "00"),
        ("pci_domain", "0000"),
        ("pci_device_id", b.device_id[2:]),
        ("pci_bus_id", str(gpu["pci_bus_id"])),
        ("pci_sub_system_id", b.subsystem_id[2:]),
        ("pci_gpu_link_info", [("pcie_gen", gen), ("link_widths", widths)]),
        ("pci_bridge_chip", _pairs(bridge_chip_type="N/A", bridge_chip_fw="N/A")),
        ("replay_counter", str(int(gpu.get("pcie_replays") or 0))),
        ("replay_rollover_counter", "0"),
        ("tx_util", "0 KB/s"),
        ("rx_util", "0 KB/s"),
        ("atomic_caps_inbound", "N/A"),
        ("atomic_caps_outbound", "N/A"),
    ]


def _events(gpu: GpuProfile) -> list[Node]:
    active = _gpu.throttle_active(gpu)
    return [
        (f"clocks_event_reason_{xml}", "Active" if name in active else "Not Active")
        for name, _, _, xml, _ in _gpu.THROTTLE_REASONS
    ]


def _fb(gpu: GpuProfile) -> list[Node]:
    fb = _gpu.memory(gpu)
    return [(key, f"{fb[key]} MiB") for key in ("total", "reserved", "used", "free")]


def _ecc(gpu: GpuProfile) -> list[Node]:
    c = _gpu.ecc(gpu)
    dram = _gpu.dram_ecc(gpu)

    def scope(prefix: str) -> list[Node]:
        return _pairs(
            sram_correctable=str(c["sram_corrected"]),
            sram_uncorrectable_parity="0",
            sram_uncorrectable_secded=str(c["sram_uncorrected"]),
            dram_correctable=str(dram[prefix]["corrected"]),
            dram_uncorrectable=str(dram[prefix]["uncorrected"]),
        )

    sources = _pairs(
        sram_l2="0",
        sram_sm="0",
        sram_microcontroller="0",
        sram_pcie="0",
        sram_other=str(c["sram_uncorrected"]),
    )
    return [
        ("volatile", scope("volatile")),
        ("aggregate", [*scope("aggregate"), ("sram_threshold_exceeded", "No")]),
        ("aggregate_uncorrectable_sram_sources", sources),
    ]


def _retired() -> list[Node]:
    retirement = _pairs(retired_count="N/A", retired_pagelist="N/A")
    return [
        ("multiple_single_bit_retirement", retirement),
        ("double_bit_retirement", retirement),
        ("pending_blacklist", "N/A"),
        ("pending_retirement", "N/A"),
    ]


def _remap(gpu: GpuProfile) -> list[Node]:
    r = _gpu.remap(gpu)
    histogram: list[Node] = [
        (f"row_remapper_histogram_{level.lower()}", f"{count} bank(s)")
        for level, count in r.histogram.items()
    ]
    return [
        ("remapped_row_corr", str(r.correctable)),
        ("remapped_row_unc", str(r.uncorrectable)),
        ("remapped_row_pending", _gpu.yes_no(r.pending)),
        ("remapped_row_failure", _gpu.yes_no(r.failure)),
        ("row_remapper_histogram", histogram),
    ]


def _temperature(gpu: GpuProfile) -> list[Node]:
    temp = int(gpu.get("temperature_c") or 0)
    return _pairs(
        gpu_temp=f"{temp} C",
        gpu_temp_tlimit="50 C",
        gpu_temp_max_threshold="-8 C",
        gpu_temp_slow_threshold="-2 C",
        gpu_temp_max_gpu_threshold="0 C",
        gpu_target_temperature="N/A",
        memory_temp=f"{temp + 8} C",
        gpu_temp_max_mem_threshold="0 C",
    )


def _power(gpu: GpuProfile) -> list[Node]:
    limit = f"{float(gpu.get('power_limit_w') or 0):.2f} W"
    return _pairs(
        power_state="P0",
        power_draw=f"{float(gpu.get('power_draw_w') or 0):.2f} W",
        current_power_limit=limit,
        requested_power_limit=limit,
        default_power_limit=limit,
        min_power_limit="200.00 W",
        max_power_limit=limit,
    )


def _clocks(gpu: GpuProfile, current: bool) -> list[Node]:
    k = _gpu.clocks(gpu)
    sm = k["sm"] if current else k["max_sm"]
    mem = k["memory"] if current else k["max_memory"]
    return _pairs(
        graphics_clock=f"{sm} MHz",
        sm_clock=f"{sm} MHz",
        mem_clock=f"{mem} MHz",
        video_clock=f"{k['video']} MHz",
    )


def _fabric(profile: Profile, gpu: GpuProfile) -> list[Node]:
    state = _gpu.fabric(profile, gpu)
    nodes: list[Node] = [("state", state["State"]), ("status", state["Status"])]
    if "CliqueId" in state:
        nodes += [("cliqueId", state["CliqueId"]), ("clusterUuid", state["ClusterUUID"])]
        nodes.append(("health", _pairs(summary=state["Summary"], bandwidth=state["Bandwidth"])))
    return nodes

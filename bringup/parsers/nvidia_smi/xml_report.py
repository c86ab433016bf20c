"""`nvidia-smi -q -x`: the XML report (DTD nvsmi_device_v10 .. v12), into the same model as -q.

Element text is whitespace-normalised: real captures hold values wrapped across lines.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bringup.parsers._text import flag, leading_float, leading_int, require_lines
from bringup.parsers.errors import ParseError
from bringup.parsers.nvidia_smi.models import (
    Clocks,
    EccCounts,
    EccErrors,
    Fabric,
    GpuInfo,
    GpuProcess,
    NvidiaSmiReport,
    PcieLink,
    Power,
    RemappedRows,
    RetiredPages,
    Temperatures,
)

TOOL = "nvidia-smi -q -x"

_HISTOGRAM_PREFIX = "row_remapper_histogram_"


def parse_query_xml(text: str) -> NvidiaSmiReport:
    """Parse `nvidia-smi -q -x` into a report with one GpuInfo per <gpu> element."""
    lines = require_lines(TOOL, text)
    body = text.lstrip()  # an XML declaration must come first; keep line numbers right
    skipped = text[: len(text) - len(body)].count("\n")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        lineno = error.position[0] + skipped
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        raise ParseError(TOOL, lineno, line, f"not well-formed XML ({error.msg})") from error
    if root.tag != "nvidia_smi_log":
        raise ParseError(TOOL, 1, lines[0], f"root element is <{root.tag}>, not <nvidia_smi_log>")
    return NvidiaSmiReport(
        timestamp=_text(root, "timestamp"),
        driver_version=_text(root, "driver_version"),
        cuda_version=_text(root, "cuda_version"),
        attached_gpus=leading_int(_text(root, "attached_gpus")),
        gpus=tuple(_gpu(index, gpu) for index, gpu in enumerate(root.findall("gpu"))),
    )


def _text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or len(found):
        return None
    return " ".join((found.text or "").split())


def _first(element: ET.Element, *paths: str) -> str | None:
    for path in paths:
        value = _text(element, path)
        if value is not None:
            return value
    return None


def _gpu(index: int, gpu: ET.Element) -> GpuInfo:
    mig_devices = gpu.find("mig_devices")
    return GpuInfo(
        index=index,
        bus_id=gpu.get("id") or _text(gpu, "pci/pci_bus_id"),
        name=_text(gpu, "product_name"),
        serial=_text(gpu, "serial"),
        uuid=_text(gpu, "uuid"),
        minor_number=leading_int(_text(gpu, "minor_number")),
        vbios_version=_text(gpu, "vbios_version"),
        module_id=leading_int(_first(gpu, "gpu_module_id", "platformInfo/module_id")),
        persistence_mode=flag(_text(gpu, "persistence_mode")),
        mig_mode=_text(gpu, "mig_mode/current_mig"),
        mig_devices=len(mig_devices.findall("mig_device")) if mig_devices is not None else 0,
        ecc_mode=_text(gpu, "ecc_mode/current_ecc"),
        pcie=_pcie(gpu.find("pci")),
        temperatures=_temperatures(gpu.find("temperature")),
        power=_power(_find_any(gpu, "gpu_power_readings", "power_readings")),
        clocks=_clocks(gpu.find("clocks")),
        max_clocks=_clocks(gpu.find("max_clocks")),
        clock_event_reasons=_clock_reasons(gpu),
        fb_total_mib=leading_int(_text(gpu, "fb_memory_usage/total")),
        fb_used_mib=leading_int(_text(gpu, "fb_memory_usage/used")),
        utilization_gpu=leading_int(_text(gpu, "utilization/gpu_util")),
        ecc=_ecc(gpu.find("ecc_errors")),
        retired_pages=_retired_pages(gpu.find("retired_pages")),
        remapped_rows=_remapped_rows(gpu.find("remapped_rows")),
        fabric=_fabric(gpu.find("fabric")),
        processes=_processes(gpu.find("processes")),
        fields=_flatten(gpu),
    )


def _find_any(element: ET.Element, *tags: str) -> ET.Element | None:
    for tag in tags:
        found = element.find(tag)
        if found is not None:
            return found
    return None


def _flatten(element: ET.Element, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for child in element:
        path = f"{prefix}{child.tag}"
        if len(child):
            for key, value in _flatten(child, path + "/").items():
                flat.setdefault(key, value)
        else:
            flat.setdefault(path, " ".join((child.text or "").split()))
    return flat


def _pcie(pci: ET.Element | None) -> PcieLink | None:
    if pci is None:
        return None
    link = "pci_gpu_link_info/"
    return PcieLink(
        gen_current=leading_int(_text(pci, link + "pcie_gen/current_link_gen")),
        gen_max=leading_int(_text(pci, link + "pcie_gen/max_link_gen")),
        width_current=leading_int(_text(pci, link + "link_widths/current_link_width")),
        width_max=leading_int(_text(pci, link + "link_widths/max_link_width")),
        gen_device_max=leading_int(_text(pci, link + "pcie_gen/max_device_link_gen")),
        gen_host_max=leading_int(_text(pci, link + "pcie_gen/max_host_link_gen")),
        replays=leading_int(_text(pci, "replay_counter")),
    )


def _temperatures(temp: ET.Element | None) -> Temperatures | None:
    if temp is None:
        return None
    return Temperatures(
        gpu=leading_int(_text(temp, "gpu_temp")),
        memory=leading_int(_text(temp, "memory_temp")),
        gpu_tlimit=leading_int(_text(temp, "gpu_temp_tlimit")),
        shutdown=leading_int(_text(temp, "gpu_temp_max_threshold")),
        slowdown=leading_int(_text(temp, "gpu_temp_slow_threshold")),
    )


def _power(power: ET.Element | None) -> Power | None:
    if power is None:
        return None
    return Power(
        draw=leading_float(_first(power, "power_draw", "average_power_draw")),
        limit=leading_float(_first(power, "current_power_limit", "power_limit")),
        instant=leading_float(_text(power, "instant_power_draw")),
        default_limit=leading_float(_text(power, "default_power_limit")),
        min_limit=leading_float(_text(power, "min_power_limit")),
        max_limit=leading_float(_text(power, "max_power_limit")),
    )


def _clocks(clocks: ET.Element | None) -> Clocks | None:
    if clocks is None:
        return None
    return Clocks(
        graphics=leading_int(_text(clocks, "graphics_clock")),
        sm=leading_int(_text(clocks, "sm_clock")),
        memory=leading_int(_text(clocks, "mem_clock")),
        video=leading_int(_text(clocks, "video_clock")),
    )


def _clock_reasons(gpu: ET.Element) -> dict[str, bool]:
    reasons: dict[str, bool] = {}
    for section, prefix in (
        ("clocks_event_reasons", "clocks_event_reason_"),
        ("clocks_throttle_reasons", "clocks_throttle_reason_"),
    ):
        element = gpu.find(section)
        for child in element if element is not None else []:
            state = flag(" ".join((child.text or "").split()))
            if state is not None:
                reasons[child.tag.removeprefix(prefix)] = state
    return reasons


def _ecc_counts(counts: ET.Element | None) -> EccCounts:
    if counts is None:
        return EccCounts()
    return EccCounts(
        sram_correctable=leading_int(_text(counts, "sram_correctable")),
        sram_uncorrectable=leading_int(_text(counts, "sram_uncorrectable")),
        sram_uncorrectable_parity=leading_int(_text(counts, "sram_uncorrectable_parity")),
        sram_uncorrectable_secded=leading_int(_text(counts, "sram_uncorrectable_secded")),
        dram_correctable=leading_int(_text(counts, "dram_correctable")),
        dram_uncorrectable=leading_int(_text(counts, "dram_uncorrectable")),
    )


def _ecc(ecc: ET.Element | None) -> EccErrors | None:
    if ecc is None or not len(ecc):
        return None
    sources = ecc.find("aggregate_uncorrectable_sram_sources")
    return EccErrors(
        volatile=_ecc_counts(ecc.find("volatile")),
        aggregate=_ecc_counts(ecc.find("aggregate")),
        sram_threshold_exceeded=flag(_text(ecc, "aggregate/sram_threshold_exceeded")),
        aggregate_uncorrectable_sram_sources={
            child.tag: count
            for child in (sources if sources is not None else [])
            if (count := leading_int(child.text)) is not None
        },
    )


def _retired_pages(pages: ET.Element | None) -> RetiredPages | None:
    if pages is None or not len(pages):
        return None
    return RetiredPages(
        single_bit_ecc=leading_int(_text(pages, "multiple_single_bit_retirement/retired_count")),
        double_bit_ecc=leading_int(_text(pages, "double_bit_retirement/retired_count")),
        pending=flag(_first(pages, "pending_blacklist", "pending_retirement")),
    )


def _remapped_rows(rows: ET.Element | None) -> RemappedRows | None:
    if rows is None or not len(rows):
        return None
    histogram = rows.find("row_remapper_histogram")
    return RemappedRows(
        correctable=leading_int(_text(rows, "remapped_row_corr")),
        uncorrectable=leading_int(_text(rows, "remapped_row_unc")),
        pending=flag(_text(rows, "remapped_row_pending")),
        failure=flag(_text(rows, "remapped_row_failure")),
        histogram={
            child.tag.removeprefix(_HISTOGRAM_PREFIX): banks
            for child in (histogram if histogram is not None else [])
            if (banks := leading_int(child.text)) is not None
        },
    )


def _fabric(fabric: ET.Element | None) -> Fabric | None:
    if fabric is None:
        return None
    health = fabric.find("health")
    return Fabric(
        state=_text(fabric, "state"),
        status=_text(fabric, "status"),
        clique_id=_text(fabric, "cliqueId"),
        cluster_uuid=_text(fabric, "clusterUuid"),
        health={
            child.tag: " ".join((child.text or "").split())
            for child in (health if health is not None else [])
        },
    )


def _processes(processes: ET.Element | None) -> tuple[GpuProcess, ...]:
    found: list[GpuProcess] = []
    for info in processes.findall("process_info") if processes is not None else []:
        pid = leading_int(_text(info, "pid"))
        if pid is None:
            continue
        found.append(
            GpuProcess(
                pid=pid,
                type=_text(info, "type") or "",
                name=_text(info, "process_name") or "",
                used_memory_mib=leading_int(_text(info, "used_memory")),
                gpu_instance_id=leading_int(_text(info, "gpu_instance_id")),
                compute_instance_id=leading_int(_text(info, "compute_instance_id")),
            )
        )
    return tuple(found)

"""`nvidia-smi -q`: the indented text report, one section per GPU.

The report is a tree by indentation: ``Key : value`` lines and section lines whose entries are
indented below them. Paste artefacts found in real captures are tolerated and recorded: the
"[...]" or "..." elision marker (NvidiaSmiReport.elided), a leading "# command" line and grep's
"--" separator. An excerpt that starts inside a GPU section (no "GPU <bus id>" line) yields one GPU
with bus_id None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bringup.parsers._text import (
    first_content,
    flag,
    is_elision,
    leading_float,
    leading_int,
    require_lines,
    split_lines,
)
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
    clock_reason_key,
)

TOOL = "nvidia-smi -q"

_KEY_VALUE = re.compile(r"^(?P<key>\S(?:.*?\S)?)\s+:(?:\s(?P<value>.*))?$")
_GPU_HEADER = re.compile(r"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])$")
_BANNER = re.compile(r"^=+\s*NVSMI LOG\s*=+$")
_HEADER_KEYS = {"timestamp", "driver version", "cuda version", "attached gpus"}
# Section and key names that identify an excerpt of a GPU section without its "GPU" line.
_GPU_KEYS = {
    "product name",
    "serial number",
    "gpu uuid",
    "fabric",
    "ecc errors",
    "remapped rows",
    "retired pages",
    "pci",
    "temperature",
    "fb memory usage",
    "clocks",
}


@dataclass
class _Node:
    """One line of the report and the lines indented below it."""

    key: str
    value: str | None
    lineno: int
    children: list[_Node] = field(default_factory=list)

    def get(self, *path: str) -> _Node | None:
        node: _Node | None = self
        for name in path:
            if node is None:
                return None
            wanted = name.lower()
            node = next((c for c in node.children if c.key.lower() == wanted), None)
        return node

    def text(self, *path: str) -> str | None:
        node = self.get(*path)
        return None if node is None else node.value

    def first_text(self, *paths: tuple[str, ...]) -> str | None:
        for path in paths:
            value = self.text(*path)
            if value is not None:
                return value
        return None


def parse_query(text: str) -> NvidiaSmiReport:
    """Parse the text of `nvidia-smi -q` into a report with one GpuInfo per GPU section.

    >>> report = parse_query("GPU 00000000:19:00.0\\n    Product Name : NVIDIA H100\\n")
    >>> report.gpus[0].name
    'NVIDIA H100'
    """
    root, elided = _tree(require_lines(TOOL, text))
    header: dict[str, str] = {}
    sections: list[tuple[str | None, _Node]] = []
    orphans: list[_Node] = []
    for node in root.children:
        match = _GPU_HEADER.match(node.key) if node.value is None else None
        if match:
            sections.append((match.group(1), node))
        elif node.value is not None and node.key.lower() in _HEADER_KEYS:
            header[node.key.lower()] = node.value
        else:
            orphans.append(node)
    if not sections and orphans:
        if not any(node.key.lower() in _GPU_KEYS for node in orphans):
            first = orphans[0]
            raise ParseError(TOOL, first.lineno, first.key, "not a section of nvidia-smi -q")
        sections.append((None, _Node("", None, orphans[0].lineno, orphans)))
    if not sections:
        raise ParseError(TOOL, *first_content(split_lines(text)), "no GPU section")
    return NvidiaSmiReport(
        timestamp=header.get("timestamp"),
        driver_version=header.get("driver version"),
        cuda_version=header.get("cuda version"),
        attached_gpus=leading_int(header.get("attached gpus")),
        gpus=tuple(_gpu(index, bus, node) for index, (bus, node) in enumerate(sections)),
        elided=elided,
    )


def _tree(lines: list[str]) -> tuple[_Node, bool]:
    """The report as a tree of nodes; True when it holds elision lines ("[...]", "...")."""
    root = _Node("", None, 0)
    stack: list[tuple[int, _Node]] = [(-1, root)]
    open_section: tuple[int, _Node] | None = None
    elided = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.expandtabs(8).rstrip()
        stripped = line.strip()
        if not stripped or _BANNER.match(stripped) or stripped == "--" or line.startswith("#"):
            continue
        if is_elision(stripped):
            elided = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if open_section is not None and indent <= open_section[0]:
            node = open_section[1]
            raise ParseError(TOOL, node.lineno, node.key, "section has no entries")
        open_section = None
        while stack[-1][0] >= indent:
            stack.pop()
        match = _KEY_VALUE.match(stripped)
        if match:
            node = _Node(match.group("key"), match.group("value") or "", lineno)
        else:
            node = _Node(stripped, None, lineno)
            open_section = (indent, node)
        stack[-1][1].children.append(node)
        stack.append((indent, node))
    if open_section is not None:
        node = open_section[1]
        raise ParseError(TOOL, node.lineno, node.key, "section has no entries (truncated?)")
    return root, elided


def _gpu(index: int, bus_id: str | None, node: _Node) -> GpuInfo:
    return GpuInfo(
        index=index,
        bus_id=bus_id,
        name=node.text("Product Name"),
        serial=node.text("Serial Number"),
        uuid=node.text("GPU UUID"),
        minor_number=leading_int(node.text("Minor Number")),
        vbios_version=node.text("VBIOS Version"),
        module_id=leading_int(node.first_text(("Module ID",), ("Platform Info", "Module Id"))),
        persistence_mode=flag(node.text("Persistence Mode")),
        mig_mode=node.text("MIG Mode", "Current"),
        mig_devices=sum(1 for child in node.children if child.key.lower() == "mig device"),
        ecc_mode=node.text("ECC Mode", "Current"),
        pcie=_pcie(node),
        temperatures=_temperatures(node),
        power=_power(node),
        clocks=_clocks(node.get("Clocks")),
        max_clocks=_clocks(node.get("Max Clocks")),
        clock_event_reasons=_clock_reasons(node),
        fb_total_mib=leading_int(node.text("FB Memory Usage", "Total")),
        fb_used_mib=leading_int(node.text("FB Memory Usage", "Used")),
        utilization_gpu=leading_int(node.text("Utilization", "GPU")),
        ecc=_ecc(node.get("ECC Errors")),
        retired_pages=_retired_pages(node.get("Retired Pages")),
        remapped_rows=_remapped_rows(node.get("Remapped Rows")),
        fabric=_fabric(node.get("Fabric")),
        processes=_processes(node.get("Processes")),
        fields=_flatten(node),
    )


def _flatten(node: _Node, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for child in node.children:
        path = f"{prefix}{child.key}"
        if child.value is not None:
            flat.setdefault(path, child.value)
        for key, value in _flatten(child, path + "/").items():
            flat.setdefault(key, value)
    return flat


def _pcie(node: _Node) -> PcieLink | None:
    pci = node.get("PCI")
    if pci is None:
        return None
    gen = pci.get("GPU Link Info", "PCIe Generation") or _Node("", None, 0)
    width = pci.get("GPU Link Info", "Link Width") or _Node("", None, 0)
    return PcieLink(
        gen_current=leading_int(gen.text("Current")),
        gen_max=leading_int(gen.text("Max")),
        width_current=leading_int(width.text("Current")),
        width_max=leading_int(width.text("Max")),
        gen_device_max=leading_int(gen.text("Device Max")),
        gen_host_max=leading_int(gen.text("Host Max")),
        replays=leading_int(pci.text("Replays Since Reset")),
    )


def _temperatures(node: _Node) -> Temperatures | None:
    temp = node.get("Temperature")
    if temp is None:
        return None
    return Temperatures(
        gpu=leading_int(temp.text("GPU Current Temp")),
        memory=leading_int(temp.text("Memory Current Temp")),
        gpu_tlimit=leading_int(temp.text("GPU T.Limit Temp")),
        shutdown=leading_int(temp.text("GPU Shutdown Temp")),
        slowdown=leading_int(temp.text("GPU Slowdown Temp")),
    )


def _power(node: _Node) -> Power | None:
    power = node.get("GPU Power Readings") or node.get("Power Readings")
    if power is None:
        return None
    return Power(
        draw=leading_float(power.first_text(("Power Draw",), ("Average Power Draw",))),
        limit=leading_float(power.first_text(("Current Power Limit",), ("Power Limit",))),
        instant=leading_float(power.text("Instantaneous Power Draw")),
        default_limit=leading_float(power.text("Default Power Limit")),
        min_limit=leading_float(power.text("Min Power Limit")),
        max_limit=leading_float(power.text("Max Power Limit")),
    )


def _clocks(node: _Node | None) -> Clocks | None:
    if node is None:
        return None
    return Clocks(
        graphics=leading_int(node.text("Graphics")),
        sm=leading_int(node.text("SM")),
        memory=leading_int(node.text("Memory")),
        video=leading_int(node.text("Video")),
    )


def _clock_reasons(node: _Node) -> dict[str, bool]:
    section = node.get("Clocks Event Reasons") or node.get("Clocks Throttle Reasons")
    reasons: dict[str, bool] = {}
    pending = list(section.children) if section is not None else []
    while pending:
        child = pending.pop(0)
        state = flag(child.value)
        if state is not None:
            reasons[clock_reason_key(child.key)] = state
        pending[:0] = child.children
    return reasons


def _ecc_counts(node: _Node | None) -> EccCounts:
    if node is None:
        return EccCounts()
    return EccCounts(
        sram_correctable=leading_int(node.text("SRAM Correctable")),
        sram_uncorrectable=leading_int(node.text("SRAM Uncorrectable")),
        sram_uncorrectable_parity=leading_int(node.text("SRAM Uncorrectable Parity")),
        sram_uncorrectable_secded=leading_int(node.text("SRAM Uncorrectable SEC-DED")),
        dram_correctable=leading_int(node.text("DRAM Correctable")),
        dram_uncorrectable=leading_int(node.text("DRAM Uncorrectable")),
    )


def _ecc(node: _Node | None) -> EccErrors | None:
    if node is None or not node.children:
        return None
    sources = node.get("Aggregate Uncorrectable SRAM Sources")
    return EccErrors(
        volatile=_ecc_counts(node.get("Volatile")),
        aggregate=_ecc_counts(node.get("Aggregate")),
        sram_threshold_exceeded=flag(node.text("Aggregate", "SRAM Threshold Exceeded")),
        aggregate_uncorrectable_sram_sources={
            child.key: count
            for child in (sources.children if sources is not None else [])
            if (count := leading_int(child.value)) is not None
        },
    )


def _retired_pages(node: _Node | None) -> RetiredPages | None:
    if node is None or not node.children:
        return None
    return RetiredPages(
        single_bit_ecc=leading_int(node.text("Single Bit ECC")),
        double_bit_ecc=leading_int(node.text("Double Bit ECC")),
        pending=flag(node.first_text(("Pending Page Blacklist",), ("Pending Page Retirement",))),
    )


def _remapped_rows(node: _Node | None) -> RemappedRows | None:
    if node is None or not node.children:
        return None
    histogram = node.get("Bank Remap Availability Histogram")
    return RemappedRows(
        correctable=leading_int(node.text("Correctable Error")),
        uncorrectable=leading_int(node.text("Uncorrectable Error")),
        pending=flag(node.text("Pending")),
        failure=flag(node.text("Remapping Failure Occurred")),
        histogram={
            child.key.lower(): banks
            for child in (histogram.children if histogram is not None else [])
            if (banks := leading_int(child.value)) is not None
        },
    )


def _fabric(node: _Node | None) -> Fabric | None:
    if node is None:
        return None
    health = node.get("Health")
    return Fabric(
        state=node.text("State"),
        status=node.text("Status"),
        clique_id=node.text("CliqueId"),
        cluster_uuid=node.text("ClusterUUID"),
        health={
            child.key: child.value
            for child in (health.children if health is not None else [])
            if child.value is not None
        },
    )


def _processes(node: _Node | None) -> tuple[GpuProcess, ...]:
    if node is None or node.value is not None:  # "Processes : None"
        return ()
    processes: list[GpuProcess] = []
    gpu_instance: int | None = None
    compute_instance: int | None = None
    for child in node.children:
        key = child.key.lower()
        if key == "gpu instance id":
            gpu_instance = leading_int(child.value)
        elif key == "compute instance id":
            compute_instance = leading_int(child.value)
        elif key == "process id":
            pid = leading_int(child.value)
            if pid is None:
                raise ParseError(TOOL, child.lineno, child.value or "", "process id not a number")
            processes.append(
                GpuProcess(
                    pid=pid,
                    type=child.text("Type") or "",
                    name=child.text("Name") or "",
                    used_memory_mib=leading_int(child.text("Used GPU Memory")),
                    gpu_instance_id=gpu_instance,
                    compute_instance_id=compute_instance,
                )
            )
    return tuple(processes)

"""`nvidia-smi` (no arguments): the default table of GPUs, MIG devices and processes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bringup.parsers._text import (
    first_content,
    flag,
    is_not_available,
    leading_float,
    leading_int,
    require_lines,
)
from bringup.parsers.errors import ParseError

TOOL = "nvidia-smi"

_VERSIONS = re.compile(
    r"NVIDIA-SMI (?P<smi>\S+)\s+Driver Version: (?P<driver>\S+)\s+CUDA Version: (?P<cuda>\S+)"
)
_GPU_FIRST = re.compile(r"^\s*(?P<index>\d+)\s+(?P<name>.+?)\s+(?P<persistence>On|Off)\s*$")
_BUS = re.compile(
    r"^\s*(?P<bus>[0-9A-Fa-f]+:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s+(?P<disp>\S+)\s*$"
)
_GPU_SECOND = re.compile(
    r"^\s*(?P<fan>\S+)\s+(?P<temp>\S+)\s+(?P<perf>\S+)\s+(?P<usage>\S+)\s*/\s*(?P<cap>\S+)\s*$"
)
_USAGE = re.compile(r"^\s*(?P<used>\S+)\s*/\s*(?P<total>\S+)\s*$")
_UTIL = re.compile(r"^\s*(?P<util>\S+)\s+(?P<mode>\S+)\s*$")
_MIG = re.compile(r"^\s*(?P<gpu>\d+)\s+(?P<gi>\d+)\s+(?P<ci>\d+)\s+(?P<dev>\d+)\s*$")
_PROCESS = re.compile(
    r"^\s*(?P<gpu>\d+)\s+(?P<gi>\S+)\s+(?P<ci>\S+)\s+(?P<pid>\d+)\s+(?P<type>\S+)\s+"
    r"(?P<name>.+?)\s+(?P<memory>\d+MiB|N/A)\s*$"
)


@dataclass(frozen=True, slots=True)
class TableGpu:
    """One GPU row (two or three lines) of the table."""

    index: int
    name: str
    persistence_mode: bool | None
    bus_id: str
    display_active: str
    volatile_uncorrected_ecc: str  # a count, "N/A", or "On" for a GPU in MIG mode
    fan: str
    temperature_c: int | None
    performance_state: str
    power_usage_w: float | None
    power_cap_w: float | None
    memory_used_mib: int | None
    memory_total_mib: int | None
    utilization_gpu: int | None
    compute_mode: str
    mig_mode: str | None


@dataclass(frozen=True, slots=True)
class TableMigDevice:
    """One MIG device row."""

    gpu: int
    gpu_instance: int
    compute_instance: int
    device: int
    memory_used_mib: int | None
    memory_total_mib: int | None


@dataclass(frozen=True, slots=True)
class TableProcess:
    """One row of the Processes section."""

    gpu: int
    gpu_instance: str
    compute_instance: str
    pid: int
    type: str
    name: str
    memory_mib: int | None


@dataclass(frozen=True, slots=True)
class SmiTable:
    """The default `nvidia-smi` table."""

    smi_version: str
    driver_version: str
    cuda_version: str
    gpus: tuple[TableGpu, ...]
    mig_devices: tuple[TableMigDevice, ...]
    processes: tuple[TableProcess, ...]
    timestamp: str | None = None


def parse_table(text: str) -> SmiTable:
    """Parse the default `nvidia-smi` table."""
    lines = require_lines(TOOL, text)
    versions: re.Match[str] | None = None
    timestamp: str | None = None
    section = ""
    block: list[tuple[int, list[str]]] = []
    gpus: list[TableGpu] = []
    migs: list[TableMigDevice] = []
    processes: list[TableProcess] = []
    started = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] not in "|+":
            if started or timestamp is not None:
                raise ParseError(TOOL, lineno, line, "text outside the table")
            timestamp = stripped
            continue
        started = True
        cells = stripped.strip("|").split("|")
        if set(stripped) <= set("|=+-"):
            if section == "gpus" and block:
                gpus.append(_gpu(block))
            if section == "mig" and block:
                migs.append(_mig(block))
            block = []
            continue
        if stripped[0] == "+":
            raise ParseError(TOOL, lineno, line, "not a table border")
        if versions is None and (found := _VERSIONS.search(stripped)):
            versions = found
        elif cells[0].strip().startswith("GPU  Name"):
            section = "gpus"
        elif cells[0].strip() == "MIG devices:":
            section = "mig"
        elif cells[0].strip() == "Processes:":
            section = "processes"
        elif section == "processes":
            process = _process(lineno, line, cells[0])
            if process is not None:
                processes.append(process)
        elif section in ("gpus", "mig") and _data_line(section, block, cells):
            block.append((lineno, cells))
    if versions is None:
        raise ParseError(TOOL, *first_content(lines), "no 'NVIDIA-SMI ... Driver Version' line")
    if block:
        lineno, cells = block[-1]
        raise ParseError(TOOL, lineno, "|".join(cells), "table row not closed (truncated?)")
    return SmiTable(
        smi_version=versions.group("smi"),
        driver_version=versions.group("driver"),
        cuda_version=versions.group("cuda"),
        gpus=tuple(gpus),
        mig_devices=tuple(migs),
        processes=tuple(processes),
        timestamp=timestamp,
    )


def _data_line(section: str, block: list[tuple[int, list[str]]], cells: list[str]) -> bool:
    """False for the column-title lines that follow a section title."""
    if block:
        return True
    first = cells[0].strip()
    pattern = _GPU_FIRST if section == "gpus" else _MIG
    return bool(pattern.match(first))


def _gpu(block: list[tuple[int, list[str]]]) -> TableGpu:
    lineno, first = block[0]
    if len(block) < 2 or len(first) < 3 or len(block[1][1]) < 3:
        raise ParseError(TOOL, lineno, "|".join(first), "GPU row needs two lines of three cells")
    second = block[1][1]
    head = _GPU_FIRST.match(first[0])
    bus = _BUS.match(first[1])
    power = _GPU_SECOND.match(second[0])
    usage = _USAGE.match(second[1])
    util = _UTIL.match(second[2])
    if head is None or bus is None:
        raise ParseError(TOOL, lineno, "|".join(first), "not 'index name persistence | bus id'")
    if power is None or usage is None or util is None:
        raise ParseError(TOOL, block[1][0], "|".join(second), "not 'fan temp perf power | memory'")
    mig_mode = block[2][1][2].strip() if len(block) > 2 and len(block[2][1]) > 2 else None
    return TableGpu(
        index=int(head.group("index")),
        name=head.group("name"),
        persistence_mode=flag(head.group("persistence")),
        bus_id=bus.group("bus"),
        display_active=bus.group("disp"),
        volatile_uncorrected_ecc=first[2].strip(),
        fan=power.group("fan"),
        temperature_c=leading_int(power.group("temp")),
        performance_state=power.group("perf"),
        power_usage_w=leading_float(power.group("usage")),
        power_cap_w=leading_float(power.group("cap")),
        memory_used_mib=leading_int(usage.group("used")),
        memory_total_mib=leading_int(usage.group("total")),
        utilization_gpu=None
        if is_not_available(util.group("util"))
        else leading_int(util.group("util")),
        compute_mode=util.group("mode"),
        mig_mode=mig_mode or None,
    )


def _mig(block: list[tuple[int, list[str]]]) -> TableMigDevice:
    lineno, first = block[0]
    ids = _MIG.match(first[0])
    usage = _USAGE.match(first[1]) if len(first) > 1 else None
    if ids is None or usage is None:
        raise ParseError(TOOL, lineno, "|".join(first), "not 'GPU GI CI MIG | memory'")
    return TableMigDevice(
        gpu=int(ids.group("gpu")),
        gpu_instance=int(ids.group("gi")),
        compute_instance=int(ids.group("ci")),
        device=int(ids.group("dev")),
        memory_used_mib=leading_int(usage.group("used")),
        memory_total_mib=leading_int(usage.group("total")),
    )


def _process(lineno: int, line: str, cell: str) -> TableProcess | None:
    text = cell.strip()
    if text.startswith(("GPU", "ID")) or text == "No running processes found":
        return None
    match = _PROCESS.match(text)
    if match is None:
        raise ParseError(TOOL, lineno, line, "not a process row")
    return TableProcess(
        gpu=int(match.group("gpu")),
        gpu_instance=match.group("gi"),
        compute_instance=match.group("ci"),
        pid=int(match.group("pid")),
        type=match.group("type"),
        name=match.group("name"),
        memory_mib=leading_int(match.group("memory")),
    )

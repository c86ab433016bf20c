"""`nvidia-smi topo -m`: the GPU/NIC connection matrix, CPU/NUMA affinity and the legends.

Real output separates cells with tabs and underlines the header with terminal escapes; pasted
copies often turn the tabs into runs of spaces. Both are read. nvidia-smi prints an empty cell
before "GPU NUMA ID" in each row, and leaves the CPU Affinity empty on some systems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.parsers._text import require_lines, strip_ansi
from bringup.parsers.errors import ParseError

TOOL = "nvidia-smi topo -m"

_DEVICE = re.compile(r"^(GPU|NIC)\d+$")
_AFFINITY = ("CPU Affinity", "NUMA Affinity", "GPU NUMA ID")
_LEGEND = re.compile(r"^\s*(?P<code>X|[A-Z#]+)\s+=\s+(?P<meaning>.+)$")
_NIC_NAME = re.compile(r"^\s*(?P<nic>NIC\d+):\s*(?P<name>\S+)\s*$")


@dataclass(frozen=True, slots=True)
class TopoRow:
    """One device row: its link type to every column device and its affinities."""

    device: str
    links: Mapping[str, str]  # column device -> "X", "NV18", "PIX", "SYS", ...
    cpu_affinity: str | None
    numa_affinity: str | None
    gpu_numa_id: str | None


@dataclass(frozen=True, slots=True)
class TopoMatrix:
    """The whole `topo -m` output."""

    devices: tuple[str, ...]
    rows: Mapping[str, TopoRow]
    legend: Mapping[str, str] = field(default_factory=dict)
    nics: Mapping[str, str] = field(default_factory=dict)  # "NIC0" -> "mlx5_0"

    def link(self, a: str, b: str) -> str:
        """The connection type between two devices ('NV18', 'PIX', ...)."""
        return self.rows[a].links[b]

    @property
    def gpus(self) -> tuple[str, ...]:
        """The GPU devices, in order."""
        return tuple(device for device in self.devices if device.startswith("GPU"))


def parse_topo_matrix(text: str) -> TopoMatrix:
    """Parse `nvidia-smi topo -m`.

    >>> m = parse_topo_matrix("\\tGPU0\\tGPU1\\tCPU Affinity\\nGPU0\\t X \\tNV18\\t0-51\\n"
    ...                       "GPU1\\tNV18\\t X \\t0-51\\n")
    >>> m.link("GPU0", "GPU1")
    'NV18'
    """
    lines = [strip_ansi(line).rstrip() for line in require_lines(TOOL, text)]
    header_index = next((i for i, line in enumerate(lines) if line.strip()), 0)
    header = lines[header_index]
    columns = _cells(header, header=True)
    devices = [cell for cell in columns if _DEVICE.match(cell)]
    if not devices or columns[: len(devices)] != devices:
        raise ParseError(TOOL, header_index + 1, header, "expected a header of GPUn/NICn columns")
    affinity_columns = [cell for cell in columns[len(devices) :] if cell]
    rows: dict[str, TopoRow] = {}
    legend: dict[str, str] = {}
    nics: dict[str, str] = {}
    section = "matrix"
    for offset, line in enumerate(lines[header_index + 1 :], start=header_index + 2):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped in ("Legend:", "NIC Legend:"):
            section = stripped
            continue
        if section == "matrix":
            row = _row(offset, line, devices, affinity_columns)
            rows[row.device] = row
        elif section == "Legend:" and (found := _LEGEND.match(line)):
            legend[found.group("code")] = found.group("meaning").strip()
        elif section == "NIC Legend:" and (nic := _NIC_NAME.match(line)):
            nics[nic.group("nic")] = nic.group("name")
        else:
            raise ParseError(TOOL, offset, line, f"unexpected line in {section.rstrip(':')}")
    missing = [device for device in devices if device not in rows]
    if missing:
        raise ParseError(TOOL, len(lines), lines[-1], f"no row for {', '.join(missing)}")
    return TopoMatrix(devices=tuple(devices), rows=rows, legend=legend, nics=nics)


def _cells(line: str, header: bool) -> list[str]:
    if "\t" in line:
        return [cell.strip() for cell in line.split("\t")][1 if header else 0 :]
    return re.split(r"\s{2,}" if header else r"\s+", line.strip())


def _row(lineno: int, line: str, devices: list[str], affinity_columns: list[str]) -> TopoRow:
    cells = _cells(line, header=False)
    name, links, rest = cells[0], cells[1 : len(devices) + 1], cells[len(devices) + 1 :]
    if not _DEVICE.match(name) or len(links) != len(devices) or not all(links):
        raise ParseError(TOOL, lineno, line, f"expected a device and {len(devices)} link types")
    affinity: dict[str, str | None] = dict.fromkeys(_AFFINITY)
    values = list(rest)
    # The empty tab cell nvidia-smi prints before GPU NUMA ID shifts the last value right.
    if "GPU NUMA ID" in affinity_columns and len(values) > len(affinity_columns):
        values = [*values[: len(affinity_columns) - 1], values[-1]]
    for column, value in zip(affinity_columns, values, strict=False):
        affinity[column] = value or None
    return TopoRow(
        device=name,
        links=dict(zip(devices, links, strict=True)),
        cpu_affinity=affinity["CPU Affinity"],
        numa_affinity=affinity["NUMA Affinity"],
        gpu_numa_id=affinity["GPU NUMA ID"],
    )

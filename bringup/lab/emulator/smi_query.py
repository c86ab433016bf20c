"""`nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]`.

Layout: fixtures/real/nvidia-smi-query-csv (590.48.01): ', ' between values, the canonical field
name in the header whatever alias was asked for (gpu_name -> name, gpu_bus_id -> pci.bus_id,
clocks.sm -> clocks.current.sm), the unit in brackets in the header and after each value
('81559 MiB', '69.85 W'), '[N/A]' where a value does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from . import _gpu
from ._base import bus_number, driver_version

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

Getter: TypeAlias = "Callable[[Profile, GpuProfile, datetime], object]"
NA = "[N/A]"


@dataclass(frozen=True)
class Field:
    """One queryable property: its unit (printed unless 'nounits') and how to read it."""

    unit: str
    get: Getter


def _g(key: str, default: object = 0) -> Getter:
    return lambda p, g, t: g.get(key, default)


def _hex(value: int, digits: int) -> str:
    return f"0x{value:0{digits}X}"


def _reason(name: str) -> Getter:
    return lambda p, g, t: "Active" if name in _gpu.throttle_active(g) else "Not Active"


def _ecc(kind: str, scope: str, part: str) -> Getter:
    def get(p: Profile, g: GpuProfile, t: datetime) -> object:
        c = _gpu.ecc(g)
        if part == "total":
            return _gpu.ecc_totals(g)[f"{kind}.{scope}"]
        if part == "sram":
            return c["sram_corrected" if kind == "corrected" else "sram_uncorrected"]
        return _gpu.dram_ecc(g)[scope][kind]  # dram / device_memory: the DRAM counters

    return get


def _fabric(key: str) -> Getter:
    return lambda p, g, t: _gpu.fabric(p, g).get(key, "N/A")


FIELDS: dict[str, Field] = {
    "timestamp": Field("", lambda p, g, t: f"{t:%Y/%m/%d %H:%M:%S}.{t.microsecond // 1000:03d}"),
    "driver_version": Field("", lambda p, g, t: driver_version(p)),
    "count": Field("", lambda p, g, t: len(p.get("gpus") or [])),
    "name": Field("", _g("name")),
    "serial": Field("", _g("serial")),
    "uuid": Field("", _g("uuid")),
    "pci.bus_id": Field("", _g("pci_bus_id")),
    "pci.domain": Field("", lambda p, g, t: "0x0000"),
    "pci.bus": Field("", lambda p, g, t: _hex(bus_number(g), 2)),
    "pci.device": Field("", lambda p, g, t: "0x00"),
    "pci.device_id": Field("", lambda p, g, t: _gpu.board(g).device_id),
    "pci.sub_device_id": Field("", lambda p, g, t: _gpu.board(g).subsystem_id),
    "pcie.link.gen.current": Field("", lambda p, g, t: _gpu.pcie(g)["gen"]),
    "pcie.link.gen.gpucurrent": Field("", lambda p, g, t: _gpu.pcie(g)["gen"]),
    "pcie.link.gen.max": Field("", lambda p, g, t: _gpu.pcie(g)["max_gen"]),
    "pcie.link.gen.gpumax": Field("", lambda p, g, t: _gpu.pcie(g)["max_gen"]),
    "pcie.link.gen.hostmax": Field("", lambda p, g, t: NA),
    "pcie.link.width.current": Field("", lambda p, g, t: _gpu.pcie(g)["width"]),
    "pcie.link.width.max": Field("", lambda p, g, t: _gpu.pcie(g)["max_width"]),
    "index": Field("", _g("index")),
    "persistence_mode": Field("", lambda p, g, t: _gpu.enabled(g.get("persistence_mode"))),
    "vbios_version": Field("", lambda p, g, t: _gpu.board(g).vbios),
    "pstate": Field("", lambda p, g, t: "P0"),
    "clocks_event_reasons.supported": Field("", lambda p, g, t: _hex(0x1FF, 16)),
    "clocks_event_reasons.active": Field("", lambda p, g, t: _hex(_gpu.throttle_mask(g), 16)),
    "memory.total": Field("MiB", lambda p, g, t: _gpu.memory(g)["total"]),
    "memory.reserved": Field("MiB", lambda p, g, t: _gpu.memory(g)["reserved"]),
    "memory.used": Field("MiB", lambda p, g, t: _gpu.memory(g)["used"]),
    "memory.free": Field("MiB", lambda p, g, t: _gpu.memory(g)["free"]),
    "compute_mode": Field("", lambda p, g, t: "Default"),
    "compute_cap": Field("", lambda p, g, t: _gpu.COMPUTE_CAPABILITY.get(g["architecture"], NA)),
    "utilization.gpu": Field("%", _g("utilization_pct")),
    "utilization.memory": Field("%", lambda p, g, t: 0),
    "ecc.mode.current": Field("", lambda p, g, t: "Enabled"),
    "ecc.mode.pending": Field("", lambda p, g, t: "Enabled"),
    "retired_pages.single_bit_ecc.count": Field("", lambda p, g, t: NA),
    "retired_pages.double_bit.count": Field("", lambda p, g, t: NA),
    "retired_pages.pending": Field("", lambda p, g, t: NA),  # row-remapping GPUs: N/A
    "remapped_rows.correctable": Field("", lambda p, g, t: _gpu.remap(g).correctable),
    "remapped_rows.uncorrectable": Field("", lambda p, g, t: _gpu.remap(g).uncorrectable),
    "remapped_rows.pending": Field("", lambda p, g, t: _gpu.yes_no(_gpu.remap(g).pending)),
    "remapped_rows.failure": Field("", lambda p, g, t: _gpu.yes_no(_gpu.remap(g).failure)),
    "temperature.gpu": Field("", _g("temperature_c")),
    "temperature.memory": Field("", lambda p, g, t: int(g.get("temperature_c") or 0) + 8),
    "power.draw": Field("W", lambda p, g, t: f"{float(g.get('power_draw_w') or 0):.2f}"),
    "power.limit": Field("W", lambda p, g, t: f"{float(g.get('power_limit_w') or 0):.2f}"),
    "enforced.power.limit": Field("W", lambda p, g, t: f"{float(g['power_limit_w']):.2f}"),
    "clocks.current.graphics": Field("MHz", lambda p, g, t: _gpu.clocks(g)["graphics"]),
    "clocks.current.sm": Field("MHz", lambda p, g, t: _gpu.clocks(g)["sm"]),
    "clocks.current.memory": Field("MHz", lambda p, g, t: _gpu.clocks(g)["memory"]),
    "clocks.max.graphics": Field("MHz", lambda p, g, t: _gpu.clocks(g)["max_sm"]),
    "clocks.max.sm": Field("MHz", lambda p, g, t: _gpu.clocks(g)["max_sm"]),
    "clocks.max.memory": Field("MHz", lambda p, g, t: _gpu.clocks(g)["max_memory"]),
    "mig.mode.current": Field("", lambda p, g, t: "Disabled"),
    "fabric.state": Field("", _fabric("State")),
    "fabric.status": Field("", _fabric("Status")),
    "fabric.cliqueId": Field("", _fabric("CliqueId")),
    "fabric.clusterUuid": Field("", _fabric("ClusterUUID")),
    "fabric.health.summary": Field("", _fabric("Summary")),
    "fabric.health.bandwidth": Field("", _fabric("Bandwidth")),
}
for _name, _label, _indent, _xml, _bit in _gpu.THROTTLE_REASONS:
    FIELDS[f"clocks_event_reasons.{_xml}"] = Field("", _reason(_name))
for _kind in ("corrected", "uncorrected"):
    for _scope in ("volatile", "aggregate"):
        for _part in ("device_memory", "dram", "sram", "total"):
            FIELDS[f"ecc.errors.{_kind}.{_scope}.{_part}"] = Field("", _ecc(_kind, _scope, _part))

ALIASES = {
    "gpu_name": "name",
    "gpu_serial": "serial",
    "gpu_uuid": "uuid",
    "gpu_bus_id": "pci.bus_id",
    "clocks.gr": "clocks.current.graphics",
    "clocks.sm": "clocks.current.sm",
    "clocks.mem": "clocks.current.memory",
    "clocks.max.gr": "clocks.max.graphics",
    "clocks.max.mem": "clocks.max.memory",
    "clocks.applications.graphics": "clocks.max.graphics",
    "power.limit.enforced": "enforced.power.limit",
    "clocks_throttle_reasons.active": "clocks_event_reasons.active",
    "clocks_throttle_reasons.supported": "clocks_event_reasons.supported",
    "persistence.mode": "persistence_mode",
    "utilization.gpu.percent": "utilization.gpu",
}
ALIASES.update(
    {
        f"clocks_throttle_reasons.{xml}": f"clocks_event_reasons.{xml}"
        for _, _, _, xml, _ in _gpu.THROTTLE_REASONS
    }
)


class QueryError(Exception):
    """A field nvidia-smi does not know; its message is the real tool's."""


def canonical(name: str) -> str:
    """The canonical name of a field (as printed in the header), or QueryError."""
    key = ALIASES.get(name, name)
    if key not in FIELDS:
        raise QueryError(f'Field "{name}" is not a valid field to query.')
    return key


def render(
    profile: Profile,
    selected: list[GpuProfile],
    fields: list[str],
    options: set[str],
    stamp: datetime,
) -> str:
    """The CSV for `fields` of the `selected` GPUs (which must all be on the bus)."""
    keys = [canonical(name) for name in fields]
    units = "nounits" not in options
    lines = []
    if "noheader" not in options:
        lines.append(", ".join(_header(key, units) for key in keys))
    for gpu in selected:
        values = [_value(FIELDS[key], profile, gpu, stamp, units) for key in keys]
        lines.append(", ".join(values))
    return "\n".join(lines) + "\n"


def _header(key: str, units: bool) -> str:
    unit = FIELDS[key].unit
    return f"{key} [{unit}]" if unit and units else key


def _value(field: Field, profile: Profile, gpu: GpuProfile, t: datetime, units: bool) -> str:
    value = str(field.get(profile, gpu, t))
    if value in (NA, "N/A") and field.unit:
        return NA
    return f"{value} {field.unit}" if field.unit and units else value

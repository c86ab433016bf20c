"""What the plan expects of one node, read from its rendered host variables.

The suite never re-derives an expectation: everything here comes from ``bringup_expected`` in
``inventory/<stack>/host_vars/<node>.yml`` (plus the burn-in level the SKU's group_vars set),
either through testinfra's Ansible backend or, for other backends, from a host_vars file given
with ``--bringup-expected``. Values stay as rendered (plain mappings); the accessors below name
the parts the checks read.

>>> e = Expected.from_variables({"bringup_expected": {"name": "n1", "nics": []}})
>>> e.name, e.gpu_count
('n1', 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ExpectationError(ValueError):
    """Host variables without the plan's expectations."""


@dataclass(frozen=True)
class Expected:
    """The plan's expectations of one node."""

    name: str
    data: Mapping[str, Any]
    diag_level: int | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_variables(
        cls, variables: Mapping[str, Any], *, diag_level: int | None = None
    ) -> Expected:
        """Build from a host's variables (Ansible hostvars or a host_vars file)."""
        data = variables.get("bringup_expected")
        if not isinstance(data, Mapping) or "name" not in data:
            host = variables.get("inventory_hostname", "?")
            raise ExpectationError(
                f"{host}: no bringup_expected in its variables; render the inventory with "
                "`bringup provision` or `bringup up`"
            )
        level = diag_level
        if level is None and variables.get("burn_in_dcgm_diag_level") is not None:
            level = int(variables["burn_in_dcgm_diag_level"])
        if level is None and (data.get("thresholds") or {}).get("dcgm_diag_level") is not None:
            level = int(data["thresholds"]["dcgm_diag_level"])
        return cls(str(data["name"]), data, level, variables)

    @classmethod
    def from_file(cls, path: Path, *, diag_level: int | None = None) -> Expected:
        """Build from a host_vars YAML file."""
        variables = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(variables, Mapping):
            raise ExpectationError(f"{path}: expected a mapping of variables")
        return cls.from_variables(variables, diag_level=diag_level)

    @property
    def gpu(self) -> Mapping[str, Any]:
        """Model, count, memory_mib, pcie_gen, pcie_width; empty for a node without GPUs."""
        return self.data.get("gpu") or {}

    @property
    def gpu_count(self) -> int:
        return int(self.gpu.get("count") or 0)

    @property
    def nvlink(self) -> Mapping[str, Any]:
        """links_per_gpu, link_speed_mbps, domain, imex, imex_peers; empty without NVLink."""
        return self.data.get("nvlink") or {}

    @property
    def nics(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.data.get("nics") or ())

    @property
    def software(self) -> Mapping[str, Any]:
        return self.data.get("software") or {}

    @property
    def packages(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.software.get("packages") or ())

    @property
    def mounts(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.data.get("mounts") or ())

    @property
    def thresholds(self) -> Mapping[str, Any]:
        return self.data.get("thresholds") or {}

    def threshold(self, key: str) -> float | None:
        """A numeric threshold, None where the catalog sets none for this SKU."""
        value = self.thresholds.get(key)
        return None if value is None else float(value)

    @property
    def services(self) -> tuple[str, ...]:
        """The daemons this node must run, as the planned software needs them."""
        sw = self.software
        wanted = []
        if sw.get("dcgm"):
            wanted.append("nvidia-dcgm")
        if sw.get("fabric_manager"):
            wanted.append("nvidia-fabricmanager")
        if sw.get("nvlsm"):
            wanted.append("nvidia-nvlsm")
        if sw.get("imex"):
            wanted.append("nvidia-imex")
        return tuple(wanted)


def nic_label(nic: Mapping[str, Any]) -> str:
    """The NIC's name in component ids: ``rail<n>`` on the compute fabric, else role and rail.

    >>> nic_label({"role": "compute", "rail": 5, "plane": 1})
    'rail5'
    >>> nic_label({"role": "compute", "rail": 2, "plane": 3})
    'rail2-p3'
    >>> nic_label({"role": "storage", "rail": 1, "plane": 1})
    'storage1'
    """
    base = f"rail{nic['rail']}" if nic.get("role") == "compute" else f"{nic['role']}{nic['rail']}"
    plane = int(nic.get("plane") or 1)
    return base if plane == 1 else f"{base}-p{plane}"


def nic_attributes(nic: Mapping[str, Any]) -> dict[str, str]:
    """What an operator needs to find the port and its cable."""
    keys = ("device", "netdev", "cable", "leaf", "leaf_port")
    return {k: str(nic[k]) for k in keys if nic.get(k) is not None}

"""Check a SKU's pinned software against the compatibility table.

Every check returns messages rather than raising, so a plan can report all incompatibilities
at once. Each message names the SKU and both sides of the conflict with their versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bringup.catalog.model import (
    ArchitectureCompat,
    BranchCompat,
    Compatibility,
    NvLink,
    Role,
    Sku,
    Software,
    SystemClass,
)

if TYPE_CHECKING:
    from bringup.catalog.loader import Catalog

# Packages built from the driver branch that dropped their "-<branch>" suffix with R580; their
# version must still equal the driver's.
_DRIVER_LOCKED = frozenset(
    {"nvidia-fabricmanager", "nvidia-imex", "libnvidia-nscq", "libnvsdm", "nvidia-open"}
)


def version_key(version: str) -> tuple[int, ...]:
    """Numeric sort key of a dotted version, ignoring an epoch and trailing zero parts.

    >>> version_key("12.10") > version_key("12.8")
    True
    >>> version_key("4.2") == version_key("4.2.0")
    True
    """
    without_epoch = version.split(":", 1)[-1]
    parts = [int(p) for p in re.findall(r"\d+", without_epoch)]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _line(version: str) -> str:
    """The major.minor line of a version: '2.9.1' -> '2.9'."""
    return ".".join(version.split(".")[:2])


def _upstream(package_version: str) -> str:
    """A Debian version without epoch and revision: '1:4.2.3-1' -> '4.2.3'."""
    return package_version.split(":", 1)[-1].rsplit("-", 1)[0]


def _needs_nvlsm(sku: Sku) -> bool:
    """NVLink 5 HGX baseboards run an NVLink subnet manager on the node."""
    return (
        sku.system_class == SystemClass.HGX
        and sku.nvlink is not None
        and sku.nvlink.generation >= 5
    )


def _nvlink_name(nvlink: NvLink | None) -> str:
    return f"NVLink {nvlink.generation}" if nvlink is not None else "no NVLink"


def _find(entries: tuple[ArchitectureCompat, ...], name: str) -> ArchitectureCompat | None:
    return next((e for e in entries if e.name == name), None)


def _branch_checks(sku: Sku, sw: Software, branch: BranchCompat) -> Iterator[str]:
    """CUDA, NVLSM, IMEX, DCGM and DOCA-OFED against what the driver branch supports."""
    drv = f"driver {sw.driver} (branch {branch.branch})"
    if version_key(sw.cuda) > version_key(branch.cuda_max):
        yield f"{sku.id}: {drv} supports CUDA up to {branch.cuda_max}, but cuda is {sw.cuda}"
    if sw.nvlsm is not None and sw.nvlsm not in branch.nvlsm:
        qualified = ", ".join(branch.nvlsm) or "none"
        yield f"{sku.id}: nvlsm {sw.nvlsm} is not qualified with {drv}; qualified: {qualified}"
    if sw.imex and not branch.imex:
        yield f"{sku.id}: imex is set, but {drv} ships no nvidia-imex"
    if sw.dcgm is not None and version_key(sw.dcgm) < version_key(branch.dcgm_min):
        yield f"{sku.id}: {drv} needs DCGM >= {branch.dcgm_min}, but dcgm is {sw.dcgm}"
    if sw.doca_ofed is not None and _line(sw.doca_ofed) not in branch.doca_ofed:
        qualified = ", ".join(branch.doca_ofed)
        yield (
            f"{sku.id}: doca_ofed {sw.doca_ofed} (line {_line(sw.doca_ofed)}) is not qualified "
            f"with {drv}; qualified lines: {qualified}"
        )


def _fabric_checks(sku: Sku, sw: Software) -> Iterator[str]:
    """Fabric manager, NVLSM and IMEX against what the SKU's NVLink domain needs."""
    nvlink = _nvlink_name(sku.nvlink)
    if sku.system_class == SystemClass.HGX and not sw.fabric_manager:
        yield f"{sku.id}: HGX NVSwitch baseboard needs fabric_manager, but it is false"
    if _needs_nvlsm(sku) and sw.nvlsm is None:
        yield f"{sku.id}: {nvlink} HGX needs nvlsm, but nvlsm is not set"
    if not _needs_nvlsm(sku) and sw.nvlsm is not None:
        yield (
            f"{sku.id}: nvlsm {sw.nvlsm} is set, but {nvlink} {sku.system_class.value} "
            "runs no NVLink subnet manager on the node"
        )
    if sku.nvlink is not None and sku.nvlink.scope == "rack" and not sw.imex:
        yield f"{sku.id}: rack-scale NVLink domain needs imex, but imex is false"


def _architecture_checks(sku: Sku, sw: Software, compat: Compatibility) -> Iterator[str]:
    """Driver branch and DCGM against the GPU architecture's minimums."""
    if sku.gpu is None:
        return
    arch = _find(compat.architectures, sku.gpu.architecture)
    if arch is None:
        known = ", ".join(a.name for a in compat.architectures)
        yield f"{sku.id}: architecture {sku.gpu.architecture} is not in the table; known: {known}"
        return
    min_branch = arch.driver_branch_min
    if min_branch is not None and version_key(sw.driver_branch) < version_key(min_branch):
        yield (
            f"{sku.id}: {arch.name} needs driver branch >= {min_branch}, "
            f"but driver {sw.driver} is branch {sw.driver_branch}"
        )
    dcgm_min = arch.dcgm_min
    if (
        dcgm_min is not None
        and sw.dcgm is not None
        and version_key(sw.dcgm) < version_key(dcgm_min)
    ):
        yield f"{sku.id}: {arch.name} needs DCGM >= {dcgm_min}, but dcgm is {sw.dcgm}"


def _adapter_checks(sku: Sku, sw: Software, compat: Compatibility) -> Iterator[str]:
    """DOCA-OFED against the minimum of every adapter the SKU carries."""
    models = sorted({n.model for n in sku.networks if n.role != Role.OOB})
    for model in models:
        adapter = _find(compat.adapters, model)
        if adapter is None:
            known = ", ".join(a.name for a in compat.adapters)
            yield f"{sku.id}: adapter {model} is not in the table; known: {known}"
            continue
        if adapter.doca_ofed_min is None:
            continue
        if sw.doca_ofed is None:
            yield f"{sku.id}: {model} needs DOCA-OFED >= {adapter.doca_ofed_min}, but none is set"
        elif version_key(sw.doca_ofed) < version_key(adapter.doca_ofed_min):
            yield (
                f"{sku.id}: {model} needs DOCA-OFED >= {adapter.doca_ofed_min}, "
                f"but doca_ofed is {sw.doca_ofed}"
            )


def _is_driver_locked(name: str, branch: str) -> bool:
    """Whether a package is built from the driver branch and so carries the driver's version."""
    return f"-{branch}" in name or name in _DRIVER_LOCKED


def _package_checks(sku: Sku, sw: Software) -> Iterator[str]:
    """Packages agree with the driver, CUDA, DCGM, NVLSM and DOCA-OFED versions they carry."""
    for pkg in sw.packages:
        upstream = _upstream(pkg.version)
        if _is_driver_locked(pkg.name, sw.driver_branch):
            if upstream != sw.driver:
                yield (
                    f"{sku.id}: package {pkg.name} {pkg.version} does not match driver {sw.driver}"
                )
            continue
        field, expected = _package_field(pkg.name, sw)
        if expected is None:
            continue
        if field == "cuda":
            same = _line(upstream) == expected
        else:
            same = version_key(upstream) == version_key(expected)
        if not same:
            yield f"{sku.id}: package {pkg.name} {pkg.version} does not match {field} {expected}"


def _package_field(name: str, sw: Software) -> tuple[str, str | None]:
    """The Software field a package is versioned by apart from the driver, and its value."""
    if name.startswith("datacenter-gpu-manager"):
        return "dcgm", sw.dcgm
    if name.startswith("cuda-toolkit-"):
        return "cuda", sw.cuda
    if name == "nvlsm":
        return "nvlsm", sw.nvlsm
    if name == "doca-ofed":
        return "doca_ofed", sw.doca_ofed
    return "", None


def check_software(sku: Sku, software: Software, compat: Compatibility) -> list[str]:
    """Every incompatibility of `software` on `sku`, one message each; empty when compatible.

    >>> from bringup.catalog import load_catalog
    >>> cat = load_catalog()
    >>> sku = cat.sku("hgx-h100")
    >>> newer_cuda = sku.software.model_copy(update={"cuda": "13.0"})
    >>> check_software(sku, newer_cuda, cat.compatibility)[0]
    'hgx-h100: driver 570.172.08 (branch 570) supports CUDA up to 12.8, but cuda is 13.0'
    """
    messages: list[str] = []
    if not software.driver.startswith(f"{software.driver_branch}."):
        messages.append(
            f"{sku.id}: driver {software.driver} is not on driver_branch {software.driver_branch}"
        )
    branch = next((b for b in compat.branches if b.branch == software.driver_branch), None)
    if branch is None:
        known = ", ".join(b.branch for b in compat.branches)
        messages.append(
            f"{sku.id}: driver branch {software.driver_branch} (driver {software.driver}) "
            f"is not in the table; known: {known}"
        )
    else:
        messages.extend(_branch_checks(sku, software, branch))
    messages.extend(_fabric_checks(sku, software))
    messages.extend(_architecture_checks(sku, software, compat))
    messages.extend(_adapter_checks(sku, software, compat))
    messages.extend(_package_checks(sku, software))
    return messages


def check_catalog(catalog: Catalog) -> list[str]:
    """Every incompatibility of the software each catalog SKU pins, SKUs in id order."""
    messages: list[str] = []
    for sku_id in sorted(catalog.skus):
        sku = catalog.skus[sku_id]
        if sku.software is not None:
            messages.extend(check_software(sku, sku.software, catalog.compatibility))
        elif sku.gpu is not None:
            messages.append(f"{sku_id}: has {sku.gpu.count} GPUs but pins no software")
    return messages

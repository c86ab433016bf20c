"""Each SKU's software and thresholds after the stack's overrides, checked for compatibility."""

from __future__ import annotations

from bringup.catalog import Thresholds, load_catalog
from bringup.catalog.compat import check_software
from bringup.catalog.model import Package, Software
from bringup.plan.model import PlanError
from bringup.spec import Cluster, SoftwareOverride


def resolve_software(cluster: Cluster, skus: list[str]) -> dict[str, Software]:
    """The pinned stack of every SKU in use; PlanError names each incompatible pair."""
    catalog = load_catalog()
    stacks: dict[str, Software] = {}
    problems: list[str] = []
    for sku_id in sorted(skus):
        sku = catalog.sku(sku_id)
        if sku.software is None:
            continue
        override = cluster.overrides.get(sku_id)
        software = sku.software
        if override is not None and override.software is not None:
            software = _apply(software, override.software)
        problems += check_software(sku, software, catalog.compatibility)
        stacks[sku_id] = software
    if problems:
        raise PlanError(problems)
    return stacks


def _apply(base: Software, override: SoftwareOverride) -> Software:
    changes = override.model_dump(exclude_none=True)
    driver = changes.get("driver")
    if driver and driver != base.driver:
        changes["packages"] = tuple(_retarget(p, base, driver, changes) for p in base.packages)
    return base.model_copy(update=changes)


def _retarget(package: Package, base: Software, driver: str, changes: dict[str, str]) -> Package:
    """Move a driver-versioned package (driver, fabric manager, IMEX) to the new driver."""
    if not package.version.startswith(base.driver):
        return package
    branch = changes.get("driver_branch", base.driver_branch)
    name = package.name.replace(f"-{base.driver_branch}", f"-{branch}")
    return package.model_copy(
        update={"name": name, "version": driver + package.version[len(base.driver) :]}
    )


def resolve_thresholds(cluster: Cluster, skus: list[str]) -> dict[str, Thresholds]:
    """The validation thresholds of every SKU in use, with the stack's overrides applied."""
    result = {}
    for sku_id in sorted(skus):
        base = load_catalog().sku(sku_id).thresholds
        override = cluster.overrides.get(sku_id)
        result[sku_id] = base.overridden(dict(override.thresholds)) if override else base
    return result

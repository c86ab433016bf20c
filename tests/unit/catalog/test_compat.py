"""The compatibility check passes the shipped catalog and refuses each kind of conflict."""

from __future__ import annotations

import doctest

import pytest

from bringup.catalog import Catalog, load_catalog
from bringup.catalog import compat as compat_module
from bringup.catalog.compat import check_catalog, check_software, version_key
from bringup.catalog.model import Package, Sku, Software


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def software_of(catalog: Catalog, sku_id: str) -> Software:
    software = catalog.sku(sku_id).software
    assert software is not None
    return software


def with_package(software: Software, name: str, version: str) -> Software:
    """`software` with package `name` pinned to `version` instead."""
    assert any(p.name == name for p in software.packages), name
    packages = tuple(
        Package(name=p.name, version=version, hold=p.hold) if p.name == name else p
        for p in software.packages
    )
    return software.model_copy(update={"packages": packages})


@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("570.172.08", (570, 172, 8)),
        ("12.8", (12, 8)),
        ("4.2.0", (4, 2)),
        ("1:4.2.3-1", (4, 2, 3, 1)),
        ("2025.06.5", (2025, 6, 5)),
    ],
)
def test_version_key(version: str, key: tuple[int, ...]) -> None:
    assert version_key(version) == key


@pytest.mark.parametrize(
    ("older", "newer"),
    [("12.8", "12.10"), ("4.2.3", "4.10.0"), ("2.9.1", "3.2.1"), ("535", "570")],
)
def test_version_key_orders_numerically(older: str, newer: str) -> None:
    assert version_key(older) < version_key(newer)


def test_shipped_catalog_is_compatible(catalog: Catalog) -> None:
    assert check_catalog(catalog) == []


@pytest.mark.parametrize("sku_id", sorted(load_catalog().skus))
def test_each_shipped_sku_passes(catalog: Catalog, sku_id: str) -> None:
    sku = catalog.sku(sku_id)
    if sku.software is None:
        assert sku.gpu is None
    else:
        assert check_software(sku, sku.software, catalog.compatibility) == []


# (SKU, change to its software, strings one message must all contain: both sides' versions).
FIELD_CONFLICTS = [
    pytest.param(
        "hgx-h100", {"driver": "535.261.03"}, ("535.261.03", "570"), id="driver-off-branch"
    ),
    pytest.param(
        "hgx-h100",
        {"driver_branch": "999", "driver": "999.1.2"},
        ("999", "999.1.2", "not in the table"),
        id="unknown-branch",
    ),
    pytest.param(
        "hgx-h100", {"cuda": "13.0"}, ("570.172.08", "12.8", "13.0"), id="cuda-above-branch"
    ),
    pytest.param(
        "hgx-a100",
        {"cuda": "12.4"},
        ("535.261.03", "12.2", "12.4"),
        id="cuda-above-lts-branch",
    ),
    pytest.param("hgx-b200", {"nvlsm": None}, ("NVLink 5", "nvlsm"), id="nvlsm-missing"),
    pytest.param(
        "hgx-b200", {"nvlsm": "2024.01.1"}, ("2024.01.1", "570.172.08"), id="nvlsm-unqualified"
    ),
    pytest.param(
        "hgx-h100", {"nvlsm": "2025.06.5"}, ("2025.06.5", "NVLink 4"), id="nvlsm-not-needed"
    ),
    pytest.param(
        "gb200-nvl72", {"nvlsm": "2025.06.5"}, ("2025.06.5", "nvl72"), id="nvlsm-on-nvl72-tray"
    ),
    pytest.param("hgx-a100", {"imex": True}, ("535.261.03", "imex"), id="imex-not-shipped"),
    pytest.param("gb300-nvl72", {"imex": False}, ("rack-scale", "imex"), id="imex-missing"),
    pytest.param(
        "hgx-h200", {"fabric_manager": False}, ("HGX", "fabric_manager"), id="fabric-manager"
    ),
    pytest.param(
        "hgx-b300", {"dcgm": "4.2.3"}, ("580.95.05", "4.3.0", "4.2.3"), id="dcgm-below-branch"
    ),
    pytest.param(
        "hgx-h100", {"dcgm": "3.1.0"}, ("hopper", "3.1.6", "3.1.0"), id="dcgm-below-architecture"
    ),
    pytest.param(
        "hgx-b200",
        {"driver_branch": "550", "driver": "550.163.01", "cuda": "12.4", "nvlsm": None},
        ("blackwell", "570", "550.163.01"),
        id="branch-below-architecture",
    ),
    pytest.param(
        "hgx-b300",
        {"doca_ofed": "2.9.1"},
        ("2.9.1", "580.95.05", "3.2"),
        id="doca-line-unqualified",
    ),
    pytest.param(
        "hgx-b300", {"doca_ofed": "2.9.1"}, ("ConnectX-8", "3.0.0", "2.9.1"), id="doca-below-nic"
    ),
    pytest.param(
        "hgx-h100", {"doca_ofed": None}, ("ConnectX-7", "2.5.0", "none"), id="doca-missing"
    ),
]


@pytest.mark.parametrize(("sku_id", "update", "expected"), FIELD_CONFLICTS)
def test_conflicting_field_is_refused_naming_both_sides(
    catalog: Catalog, sku_id: str, update: dict[str, object], expected: tuple[str, ...]
) -> None:
    sku = catalog.sku(sku_id)
    software = software_of(catalog, sku_id).model_copy(update=update)
    messages = check_software(sku, software, catalog.compatibility)
    assert any(all(s in m for s in expected) for m in messages), messages
    assert all(m.startswith(f"{sku_id}: ") for m in messages)


# (SKU, package, pinned version, strings one message must all contain).
PACKAGE_CONFLICTS = [
    pytest.param(
        "hgx-h100",
        "nvidia-fabricmanager-570",
        "570.158.01-1",
        ("570.158.01-1", "570.172.08"),
        id="fabricmanager-off-driver",
    ),
    pytest.param(
        "hgx-b200",
        "libnvsdm-570",
        "570.133.20-1",
        ("570.133.20-1", "570.172.08"),
        id="nvsdm-off-driver",
    ),
    pytest.param(
        "gb300-nvl72",
        "nvidia-imex",
        "580.82.07-1",
        ("580.82.07-1", "580.95.05"),
        id="unsuffixed-imex-off-driver",
    ),
    pytest.param(
        "hgx-b300",
        "nvidia-fabricmanager",
        "580.82.07-1",
        ("580.82.07-1", "580.95.05"),
        id="unsuffixed-fabricmanager-off-driver",
    ),
    pytest.param(
        "hgx-a100",
        "nvidia-driver-535",
        "535.247.01-0ubuntu1",
        ("535.247.01-0ubuntu1", "535.261.03"),
        id="driver-package-off-driver",
    ),
    pytest.param(
        "hgx-h100",
        "datacenter-gpu-manager-4-core",
        "1:4.1.0-1",
        ("1:4.1.0-1", "4.2.3"),
        id="dcgm-package-off-dcgm",
    ),
    pytest.param(
        "hgx-b200", "nvlsm", "2025.01.5-1", ("2025.01.5-1", "2025.06.5"), id="nvlsm-package"
    ),
    pytest.param(
        "hgx-h100", "doca-ofed", "3.2.1-044000", ("3.2.1-044000", "2.9.1"), id="doca-package"
    ),
    pytest.param(
        "hgx-h100",
        "cuda-toolkit-12-8",
        "12.4.1-1",
        ("12.4.1-1", "cuda 12.8"),
        id="cuda-package-off-cuda",
    ),
]


@pytest.mark.parametrize(("sku_id", "package", "version", "expected"), PACKAGE_CONFLICTS)
def test_package_off_its_version_is_refused(
    catalog: Catalog, sku_id: str, package: str, version: str, expected: tuple[str, ...]
) -> None:
    sku = catalog.sku(sku_id)
    software = with_package(software_of(catalog, sku_id), package, version)
    messages = check_software(sku, software, catalog.compatibility)
    assert any(all(s in m for s in expected) for m in messages), messages


def test_one_conflict_gives_one_message(catalog: Catalog) -> None:
    sku = catalog.sku("hgx-a100")
    software = software_of(catalog, "hgx-a100").model_copy(update={"imex": True})
    assert check_software(sku, software, catalog.compatibility) == [
        "hgx-a100: imex is set, but driver 535.261.03 (branch 535) ships no nvidia-imex"
    ]


def test_cuda_change_also_flags_the_toolkit_package(catalog: Catalog) -> None:
    sku = catalog.sku("hgx-h100")
    software = software_of(catalog, "hgx-h100").model_copy(update={"cuda": "12.9"})
    assert check_software(sku, software, catalog.compatibility) == [
        "hgx-h100: driver 570.172.08 (branch 570) supports CUDA up to 12.8, but cuda is 12.9",
        "hgx-h100: package cuda-toolkit-12-8 12.8.1-1 does not match cuda 12.9",
    ]


def test_unknown_architecture_is_refused(catalog: Catalog) -> None:
    sku = catalog.sku("hgx-a100")
    assert sku.gpu is not None
    volta = sku.model_copy(update={"gpu": sku.gpu.model_copy(update={"architecture": "volta"})})
    messages = check_software(volta, software_of(catalog, "hgx-a100"), catalog.compatibility)
    assert any("volta" in m and "not in the table" in m for m in messages), messages


def test_unknown_adapter_is_refused(catalog: Catalog) -> None:
    sku = catalog.sku("hgx-a100")
    networks = tuple(
        n.model_copy(update={"model": "ConnectX-5"}) if n.role == "compute" else n
        for n in sku.networks
    )
    cx5: Sku = sku.model_copy(update={"networks": networks})
    messages = check_software(cx5, software_of(catalog, "hgx-a100"), catalog.compatibility)
    assert any("ConnectX-5" in m and "not in the table" in m for m in messages), messages


def test_check_catalog_reports_a_gpu_sku_without_software(catalog: Catalog) -> None:
    bare = catalog.sku("hgx-h100").model_copy(update={"software": None})
    broken = catalog.model_copy(update={"skus": {**catalog.skus, "hgx-h100": bare}})
    assert check_catalog(broken) == ["hgx-h100: has 8 GPUs but pins no software"]


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(compat_module)
    assert result.attempted > 0
    assert result.failed == 0

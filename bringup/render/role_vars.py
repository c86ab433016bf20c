"""The variables of the Ansible roles, read off the plan: what provisioning converges a node to.

Each role's public variables carry the role's name as prefix and are typed in its
``roles/<role>/meta/argument_specs.yml``; a test checks what is rendered here against every
spec. Three scopes, by what they depend on: the cluster (``group_vars/all.yml``: the package
repository), a SKU (``group_vars/sku-<sku>.yml``: pinned packages, burn-in settings) and a node
(``host_vars/<node>.yml``: its interfaces, mounts, who runs IMEX and its peers, and HCAs).

A SKU's pinned packages are split between the roles that install them by the registry
:data:`PACKAGE_ROLES`; a package no role claims is an error, so a new catalog package cannot be
silently left out of provisioning.

>>> package_role("nvidia-imex-570")
'nvlink_imex'
"""

from __future__ import annotations

from pydantic import JsonValue

from bringup.catalog import Role, load_catalog
from bringup.plan import NodeExpectation, Plan

# Package name prefix -> the role variable (without "_packages") that installs it; first match.
PACKAGE_ROLES: tuple[tuple[str, str], ...] = (
    ("nvidia-driver-", "nvidia_driver"),
    ("nvidia-fabricmanager", "fabric_manager"),
    ("libnvidia-nscq", "fabric_manager"),  # NVSwitch configuration and query library of FM
    ("nvlsm", "nvlink_nvlsm"),
    ("libnvsdm", "nvlink_nvlsm"),  # NVSwitch device monitoring, paired with NVLSM
    ("nvidia-imex", "nvlink_imex"),
    ("datacenter-gpu-manager-", "dcgm"),
    ("cuda-toolkit-", "cuda"),
    ("doca-ofed", "doca_ofed"),
)

# The burn-in thresholds a run is judged against, copied beside its raw outputs.
BURN_IN_THRESHOLDS = (
    "nccl_allreduce_busbw_gbs",
    "nvbandwidth_h2d_gbs",
    "nvbandwidth_d2d_gbs",
    "ib_write_bw_gbps",
)


def package_role(name: str) -> str:
    """The role variable prefix that installs package `name`; ValueError names the package."""
    for prefix, role in PACKAGE_ROLES:
        if name.startswith(prefix):
            return role
    raise ValueError(f"package {name!r}: no role installs it; add its prefix to PACKAGE_ROLES")


def cluster_role_vars(plan: Plan) -> dict[str, JsonValue]:
    """Role variables shared by every node: the apt source of NVIDIA's packages."""
    return {"nvidia_driver_repository": plan.cluster.package_repository}


def sku_role_vars(plan: Plan, sku_id: str) -> dict[str, JsonValue]:
    """Role variables of every node of SKU `sku_id`: pinned packages per role, burn-in settings."""
    sku = load_catalog().sku(sku_id)
    software = plan.software.get(sku_id)
    packages: dict[str, list[JsonValue]] = {"doca_ofed": []}
    if software is not None:
        packages.update({"nvidia_driver": [], "cuda": [], "dcgm": []})
        if software.fabric_manager:
            packages["fabric_manager"] = []
        if sku.nvlink is not None:
            packages.update({"nvlink_nvlsm": [], "nvlink_imex": []})
        for package in software.packages:
            packages.setdefault(package_role(package.name), []).append(
                package.model_dump(mode="json")
            )
    result: dict[str, JsonValue] = {f"{role}_packages": pins for role, pins in packages.items()}
    if software is not None:
        thresholds = plan.thresholds[sku_id]
        result["cuda_version"] = software.cuda
        result["burn_in_dcgm_diag_level"] = thresholds.dcgm_diag_level
        result["burn_in_gpu_count"] = sku.gpus_per_unit
        limits = thresholds.model_dump(mode="json")
        result["burn_in_thresholds"] = {k: limits[k] for k in BURN_IN_THRESHOLDS}
    return dict(sorted(result.items()))


def host_role_vars(expected: NodeExpectation) -> dict[str, JsonValue]:
    """Role variables of one node, from its expectation: rail interfaces, mounts, IMEX peers,
    HCAs to burn in."""
    result: dict[str, JsonValue] = {
        "doca_ofed_interfaces": [
            {
                "name": nic.netdev,
                "address": f"{nic.address}/{nic.prefix}",
                "mtu": nic.mtu,
                **({"ipoib_mode": nic.ipoib_mode.value} if nic.ipoib_mode else {}),
                "table": nic.table,
                "subnet": f"{nic.subnet}",
                **({"gateway": nic.gateway} if nic.gateway else {}),
                "device": nic.device,
                "fabric": nic.fabric,
                "plane": nic.plane,
                "rail": nic.rail,
            }
            for nic in expected.nics
        ],
        "storage_client_mounts": [
            {
                "name": m.name,
                "fstype": m.kind.value,
                "src": m.export,
                "path": m.mount,
                "opts": m.options,
            }
            for m in expected.mounts
        ],
    }
    nvlink = expected.nvlink
    if nvlink is not None:
        # nvlink_imex_enabled is "the host runs IMEX"; where the DRA driver does, the role
        # stops the host's service and writes no nodes config, so it gets no peers
        host_imex = expected.host_imex
        result["nvlink_domain"] = nvlink.domain
        result["nvlink_imex_enabled"] = host_imex
        result["nvlink_imex_owner"] = nvlink.imex_owner
        result["nvlink_imex_peers"] = [p.address for p in nvlink.imex_peers] if host_imex else []
    if expected.software is not None:
        result["burn_in_hcas"] = [
            {"device": nic.device, "port": nic.port}
            for nic in expected.nics
            if nic.role == Role.COMPUTE
        ]
        result["burn_in_mounts"] = [m.mount for m in expected.mounts]
    return result

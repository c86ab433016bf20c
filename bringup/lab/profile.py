"""The hardware profile of a lab node: what its emulated GPUs, NVLinks and NICs look like.

Generated from the plan's expected state, deterministically (serials, UUIDs and GUIDs are derived
from the node's name), and written as JSON into the node's root, where the emulated tools read
it and faults change it. Plain data, so that the emulated tools need nothing but the standard
library.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bringup.catalog import load_catalog
from bringup.plan import Plan, expected_state
from bringup.plan.model import Node

PROFILE_PATH = "var/lib/bringup-lab/profile.json"
"""Where a node's profile lives, relative to its root."""

# nvidia-smi's product names carry a board; the lab keeps the catalog's model name.
_IDLE = {"temperature_c": 33, "power_draw_w": 72.0, "utilization_pct": 0}
# Adapter model -> (ibstat CA type, firmware); the CX-7 values are those of the real captures.
_ADAPTERS = {
    "ConnectX-6": ("MT4123", "20.39.1002"),
    "ConnectX-6 Dx": ("MT4125", "22.39.1002"),
    "ConnectX-7": ("MT4129", "28.41.1000"),
    "ConnectX-8": ("MT4131", "40.44.1036"),
    "BlueField-3": ("MT41692", "32.41.1000"),
}
# Sustained sm clock per architecture (MHz), for the idle profile; datasheet boost clocks.
_SM_CLOCK = {"ampere": 1410, "hopper": 1980, "blackwell": 1965, "blackwell-ultra": 2032}
_PCI_BUSES = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)  # DGX-style GPU buses


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()


def _uuid(*parts: object) -> str:
    h = _digest(*parts).hex()
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _serial(*parts: object) -> str:
    return str(1650000000000 + int.from_bytes(_digest(*parts)[:5], "big") % 10**9)


def _guid(*parts: object) -> str:
    return "0x" + _digest(*parts)[:8].hex()


def node_profile(plan: Plan, node: Node) -> dict[str, Any]:
    """The profile of `node`: healthy hardware exactly as the plan expects it."""
    state = expected_state(plan, node)
    sku = load_catalog().sku(node.sku)
    software = state["software"] or {}
    gpus = []
    if sku.gpu is not None:
        links = sku.nvlink.links_per_gpu if sku.nvlink else 0
        speed = sku.nvlink.link_speed_mbps if sku.nvlink else 0
        for i in range(sku.gpu.count):
            bus = _PCI_BUSES[i % len(_PCI_BUSES)]
            gpus.append(
                {
                    "index": i,
                    "name": sku.gpu.model,
                    "architecture": sku.gpu.architecture,
                    "serial": _serial(node.name, "gpu", i),
                    "uuid": _uuid(node.name, "gpu", i),
                    "pci_bus_id": f"00000000:{bus:02X}:00.0",
                    "present": True,
                    "persistence_mode": True,
                    "memory_total_mib": sku.gpu.memory_mib,
                    "memory_used_mib": 0,
                    **_IDLE,
                    "power_limit_w": 700.0,
                    "clocks": {"sm_mhz": _SM_CLOCK[sku.gpu.architecture], "mem_mhz": 2619},
                    "throttle_reasons": [],
                    "pcie": {"gen": sku.gpu.pcie_gen, "width": sku.gpu.pcie_width,
                             "max_gen": sku.gpu.pcie_gen, "max_width": sku.gpu.pcie_width},
                    "ecc": {"volatile_corrected": 0, "volatile_uncorrected": 0,
                            "aggregate_corrected": 0, "aggregate_uncorrected": 0,
                            "sram_corrected": 0, "sram_uncorrected": 0},
                    "row_remap": {"correctable": 0, "uncorrectable": 0, "pending": False,
                                  "failure": False},
                    "nvlinks": [
                        {"link": k, "active": True, "speed_mbps": speed,
                         "errors": {"replay": 0, "recovery": 0, "crc": 0}}
                        for k in range(links)
                    ],
                }
            )  # fmt: skip
    nics = []
    for nic in state["nics"]:
        ca_type, firmware = _ADAPTERS.get(nic["model"], ("MT4129", "28.41.1000"))
        nics.append(
            {
                "device": nic["device"],
                "port": nic["port"],
                "netdev": nic["netdev"],
                "fabric": nic["fabric"],
                "role": nic["role"],
                "rail": nic["rail"],
                "plane": nic["plane"],
                "model": nic["model"],
                "ca_type": ca_type,
                "firmware": firmware,
                "link_layer": "InfiniBand" if nic["link_layer"] == "infiniband" else "Ethernet",
                "node_guid": _guid(node.name, nic["device"]),
                "port_guid": _guid(node.name, nic["device"], nic["port"]),
                "state": "Active",
                "physical_state": "LinkUp",
                "rate_gbps": nic["rate_gbps"],
                "lid": 1 + int.from_bytes(_digest(node.name, nic["device"])[:2], "big") % 48000,
                "sm_lid": 1,
                "address": nic["address"],
                "prefix": nic["prefix"],
                "counters": {"symbol_errors": 0, "link_downed": 0, "link_error_recovery": 0,
                             "port_rcv_errors": 0, "port_xmit_discards": 0},
            }
        )  # fmt: skip
    nvlink = state["nvlink"]
    thresholds = state["thresholds"]
    services = {}
    if software.get("fabric_manager"):
        services["nvidia-fabricmanager"] = "running"
    if software.get("imex"):
        services["nvidia-imex"] = "running"
    return {
        "node": node.name,
        "sku": sku.id,
        "hostname": node.name,
        "driver": {"version": software.get("driver"), "cuda": software.get("cuda")},
        "gpus": gpus,
        "nics": nics,
        "nvlink_domain": {
            "name": nvlink["domain"],
            "imex_peers": [p["address"] for p in nvlink["imex_peers"]],
            "gpus": nvlink["domain_gpus"],
        }
        if nvlink
        else None,
        "services": services,
        "xid_events": [],
        "performance": _performance(sku.id, thresholds, nics),
        "mounts": [m["mount"] for m in state["mounts"]],
        "faults": [],
    }


def _performance(
    sku: str, thresholds: dict[str, Any], nics: list[dict[str, Any]]
) -> dict[str, float]:
    """Healthy bandwidths: 8% above each floor the catalog sets (or the link rate when none)."""

    def above(key: str, fallback: float) -> float:
        floor = thresholds.get(key)
        return round(float(floor) * 1.08, 1) if floor else fallback

    rate = max((n["rate_gbps"] for n in nics if n["role"] == "compute"), default=0)
    return {
        "nccl_busbw_gbs": above("nccl_allreduce_busbw_gbs", 0.0),
        "nvbandwidth_h2d_gbs": above("nvbandwidth_h2d_gbs", 55.0),
        "nvbandwidth_d2d_gbs": above("nvbandwidth_d2d_gbs", 360.0),
        "ib_write_bw_gbps": above("ib_write_bw_gbps", round(rate * 0.97, 1)),
    }

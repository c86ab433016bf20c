"""The hardware profile of a lab node: what its emulated GPUs, NVLinks and NICs look like.

Generated from the node's expectation (bringup.plan.NodeExpectation), deterministically (serials,
UUIDs and GUIDs are derived from the node's name), and written as JSON into the node's root, where
the emulated tools read it and faults change it. Plain data of the shape
bringup.lab.emulator.hardware declares, so that the emulated tools need nothing but the standard
library.
"""

from __future__ import annotations

import hashlib

from bringup.catalog import LinkLayer, Role
from bringup.lab.emulator.hardware import (
    GpuProfile,
    NicProfile,
    NvlinkDomain,
    Performance,
    Profile,
    ServiceState,
)
from bringup.plan import NodeExpectation, Plan, node_expectation
from bringup.plan.expectation import NicExpectation
from bringup.plan.model import Node

PROFILE_PATH = "var/lib/bringup-lab/profile.json"
"""Where a node's profile lives, relative to its root."""

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


def node_profile(plan: Plan, node: Node) -> Profile:
    """The profile of `node`: healthy hardware exactly as the plan expects it."""
    expected = node_expectation(plan, node)
    software = expected.software
    nics = [_nic(node.name, nic) for nic in expected.nics]
    services: dict[str, ServiceState] = {}
    if software and software.fabric_manager:
        services["nvidia-fabricmanager"] = "running"
    if expected.host_imex:  # not where the DRA driver runs IMEX: the role stops the host's
        services["nvidia-imex"] = "running"
    return {
        "node": node.name,
        "sku": expected.sku,
        "hostname": node.name,
        "driver": {
            "version": software.driver if software else None,
            "cuda": software.cuda if software else None,
        },
        "gpus": _gpus(node.name, expected),
        "nics": nics,
        "nvlink_domain": _nvlink_domain(expected),
        "services": services,
        "xid_events": [],
        "performance": _performance(expected, nics),
        "mounts": [m.mount for m in expected.mounts],
        "faults": [],
    }


def _gpus(name: str, expected: NodeExpectation) -> list[GpuProfile]:
    """Every planned GPU, idle and healthy: present, no errors, every NVLink up."""
    gpu = expected.gpu
    if gpu is None:
        return []
    nvlink = expected.nvlink
    speed = nvlink.link_speed_mbps if nvlink else 0
    return [
        {
            "index": i,
            "name": gpu.model,  # the catalog's model name, as nvidia-smi names the product
            "architecture": gpu.architecture,
            "serial": _serial(name, "gpu", i),
            "uuid": _uuid(name, "gpu", i),
            "pci_bus_id": f"00000000:{_PCI_BUSES[i % len(_PCI_BUSES)]:02X}:00.0",
            "present": True,
            "persistence_mode": True,
            "memory_total_mib": gpu.memory_mib,
            "memory_used_mib": 0,
            "temperature_c": 33,
            "power_draw_w": 72.0,
            "utilization_pct": 0,
            "power_limit_w": 700.0,
            "clocks": {"sm_mhz": _SM_CLOCK[gpu.architecture], "mem_mhz": 2619},
            "throttle_reasons": [],
            "pcie": {"gen": gpu.pcie_gen, "width": gpu.pcie_width,
                     "max_gen": gpu.pcie_gen, "max_width": gpu.pcie_width},
            "ecc": {"volatile_corrected": 0, "volatile_uncorrected": 0,
                    "aggregate_corrected": 0, "aggregate_uncorrected": 0,
                    "sram_corrected": 0, "sram_uncorrected": 0},
            "row_remap": {"correctable": 0, "uncorrectable": 0, "pending": False,
                          "failure": False},
            "nvlinks": [
                {"link": k, "active": True, "speed_mbps": speed,
                 "errors": {"replay": 0, "recovery": 0, "crc": 0}}
                for k in range(expected.links_per_gpu)
            ],
        }
        for i in range(gpu.count)
    ]  # fmt: skip


def _nic(node: str, nic: NicExpectation) -> NicProfile:
    """A planned NIC port, up at its planned rate, with no errors."""
    ca_type, firmware = _ADAPTERS.get(nic.model, ("MT4129", "28.41.1000"))
    return {
        "device": nic.device,
        "port": nic.port,
        "netdev": nic.netdev,
        "fabric": nic.fabric,
        "role": nic.role.value,
        "rail": nic.rail,
        "plane": nic.plane,
        "model": nic.model,
        "ca_type": ca_type,
        "firmware": firmware,
        "link_layer": "InfiniBand" if nic.link_layer == LinkLayer.INFINIBAND else "Ethernet",
        "node_guid": _guid(node, nic.device),
        "port_guid": _guid(node, nic.device, nic.port),
        "state": "Active",
        "physical_state": "LinkUp",
        "rate_gbps": nic.rate_gbps,
        "lid": 1 + int.from_bytes(_digest(node, nic.device)[:2], "big") % 48000,
        "sm_lid": 1,
        "address": nic.address,
        "prefix": nic.prefix,
        "counters": {"symbol_errors": 0, "link_downed": 0, "link_error_recovery": 0,
                     "port_rcv_errors": 0, "port_xmit_discards": 0},
    }  # fmt: skip


def _nvlink_domain(expected: NodeExpectation) -> NvlinkDomain | None:
    nvlink = expected.nvlink
    if nvlink is None:
        return None
    return {
        "name": nvlink.domain,
        # an IMEX daemon reaches its peers by in-band address: a peer without one is not listed
        "imex_peers": [p.address for p in nvlink.imex_peers if p.address is not None],
        "gpus": nvlink.domain_gpus,
    }


def _performance(expected: NodeExpectation, nics: list[NicProfile]) -> Performance:
    """Healthy bandwidths: 8% above each floor the catalog sets (or the link rate when none)."""

    def above(key: str, fallback: float) -> float:
        floor = expected.threshold(key)
        return round(floor * 1.08, 1) if floor else fallback

    rate = max((n["rate_gbps"] for n in nics if n["role"] == Role.COMPUTE), default=0)
    return {
        "nccl_busbw_gbs": above("nccl_allreduce_busbw_gbs", 0.0),
        "nvbandwidth_h2d_gbs": above("nvbandwidth_h2d_gbs", 55.0),
        "nvbandwidth_d2d_gbs": above("nvbandwidth_d2d_gbs", 360.0),
        "ib_write_bw_gbps": above("ib_write_bw_gbps", round(rate * 0.97, 1)),
    }

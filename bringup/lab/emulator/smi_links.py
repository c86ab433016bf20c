"""`nvidia-smi nvlink -s` and `nvidia-smi topo -m`.

nvlink -s: fixtures/real/nvidia-smi-nvlink (590.48.01: a tab and a space before 'Link N: ...',
speeds in GB/s without trailing zeros, '<inactive>' for a link that is down).
topo -m: fixtures/real/nvidia-smi-topo (the 8 x H100 + 6 NIC matrix: tab-separated cells, ' X '
on the diagonal, NV# between GPUs on NVSwitch, PIX/NODE/SYS to NICs, the legend and the NIC
legend). The header is printed without the terminal underline escapes (as the 8-GPU capture).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import _gpu
from ._base import lost_gpu_line, nic_number, present

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, NicProfile, Profile

LEGEND = """
Legend:

  X    = Self
  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes (e.g., QPI/UPI)
  NODE = Connection traversing PCIe as well as the interconnect between PCIe Host Bridges within a NUMA node
  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)
  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)
  PIX  = Connection traversing at most a single PCIe bridge
  NV#  = Connection traversing a bonded set of # NVLinks
"""  # noqa: E501 (the real legend's lines)
CPU_AFFINITY = ("0-51,104-155", "52-103,156-207")  # per NUMA node, of the 8 x H100 capture


def nvlink_status(selected: list[GpuProfile]) -> str:
    """`nvidia-smi nvlink -s`: every link of every selected GPU, active or not."""
    lines = []
    for gpu in selected:
        if not present(gpu):
            lines.append(lost_gpu_line(gpu))
            continue
        lines.append(f"GPU {gpu['index']}: {gpu['name']} (UUID: {gpu['uuid']})")
        for link in sorted(gpu.get("nvlinks") or [], key=lambda k: int(k["link"])):
            speed = _gpu.link_gbs(link["speed_mbps"]) + " GB/s" if link.get("active") else None
            lines.append(f"\t Link {link['link']}: {speed or '<inactive>'}")
    return "\n".join(lines) + "\n" if lines else ""


def _nic_numa(nic: NicProfile, gpus: list[GpuProfile]) -> int:
    partner = _partner(nic, gpus)
    if partner is not None:
        return _gpu.numa_node(partner)
    match = re.search(r"p(\d+)s\d+", str(nic.get("netdev", "")))
    return 1 if match and int(match.group(1)) >= 0x80 else 0


def _partner(nic: NicProfile, gpus: list[GpuProfile]) -> GpuProfile | None:
    """The GPU a compute NIC sits next to on the PCIe switch (rail r <-> GPU r-1)."""
    if nic.get("role") != "compute" or not gpus or not nic.get("rail"):
        return None
    return gpus[(int(nic["rail"]) - 1) % len(gpus)]


def _card(nic: NicProfile) -> str:
    """The PCIe function's card: 'enp170s0f1np1' -> 'enp170s0' (ports of one adapter)."""
    return re.sub(r"f\d+np\d+$", "", str(nic.get("netdev", "")))


def topology(profile: Profile, gpus: list[GpuProfile]) -> str:
    """`nvidia-smi topo -m`: the GPU/NIC connection matrix, legend and NIC legend."""
    lost = [lost_gpu_line(gpu) for gpu in gpus if not present(gpu)]
    shown = [gpu for gpu in gpus if present(gpu)]
    devices = sorted(
        {str(n["device"]): n for n in profile.get("nics") or []}.values(), key=nic_number
    )
    names = [f"GPU{g['index']}" for g in shown] + [f"NIC{i}" for i in range(len(devices))]
    header = "\t" + "\t".join(names) + "\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID"
    rows = [header]
    for gpu in shown:
        cells = [_gpu_gpu(gpu, other) for other in shown]
        cells += [_gpu_nic(gpu, nic, shown) for nic in devices]
        numa = _gpu.numa_node(gpu)
        rows.append(
            f"GPU{gpu['index']}\t" + "\t".join(cells) + f"\t{CPU_AFFINITY[numa]}\t{numa}\t\tN/A"
        )
    for i, nic in enumerate(devices):
        cells = [_gpu_nic(gpu, nic, shown) for gpu in shown]
        cells += [_nic_nic(nic, other, shown) for other in devices]
        rows.append(f"NIC{i}\t" + "\t".join(cells) + "\t\t\t\t")
    legend = "\n".join(f"  NIC{i}: {nic['device']}" for i, nic in enumerate(devices))
    text = "\n".join(lost + rows) + "\n" + LEGEND
    return text + ("\nNIC Legend:\n\n" + legend + "\n" if devices else "")


def _gpu_gpu(gpu: GpuProfile, other: GpuProfile) -> str:
    if gpu is other:
        return " X "
    links = min(_gpu.active_links(gpu), _gpu.active_links(other))
    if links:
        return f"NV{links}"
    return "NODE" if _gpu.numa_node(gpu) == _gpu.numa_node(other) else "SYS"


def _gpu_nic(gpu: GpuProfile, nic: NicProfile, gpus: list[GpuProfile]) -> str:
    if _partner(nic, gpus) is gpu:
        return "PIX"
    return "NODE" if _gpu.numa_node(gpu) == _nic_numa(nic, gpus) else "SYS"


def _nic_nic(nic: NicProfile, other: NicProfile, gpus: list[GpuProfile]) -> str:
    if nic is other:
        return " X "
    if _card(nic) and _card(nic) == _card(other):
        return "PIX"
    return "NODE" if _nic_numa(nic, gpus) == _nic_numa(other, gpus) else "SYS"

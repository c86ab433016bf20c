"""The suite's check ids: one short dotted name per thing a node is judged on.

Every Finding the suite emits carries one of these ids in its `check` field, and every test in
tests/validation declares the id it judges with ``@pytest.mark.bringup_check(<id>)``. Admission,
dashboards and users' CI key on the ids, so they are the suite's public vocabulary: add ids,
never rename one.

>>> CHECKS["gpu.ecc_uncorrected"]
'uncorrected volatile ECC errors (any fails)'
"""

from __future__ import annotations

CHECKS: dict[str, str] = {
    # GPUs (nvidia-smi -q -x, kernel log)
    "gpu.count": "GPUs visible to the driver, as planned",
    "gpu.model": "GPU model, as planned",
    "gpu.memory": "GPU framebuffer size, as planned",
    "gpu.driver": "driver version, as planned",
    "gpu.persistence_mode": "persistence mode enabled",
    "gpu.ecc_uncorrected": "uncorrected volatile ECC errors (any fails)",
    "gpu.ecc_sram_corrected": "corrected SRAM ECC errors under the threshold",
    "gpu.row_remap": "no row remap pending or failed",
    "gpu.xid": "no Xid of the critical set within the window",
    "gpu.pcie": "PCIe link generation and width, as planned",
    "gpu.clocks": "clocks not held down by a hardware slowdown",
    # NVLink and its daemons
    "nvlink.link_state": "every planned NVLink of every GPU active",
    "nvlink.speed": "active NVLinks at the planned speed",
    "nvlink.errors": "no NVLink error (Xid 74) within the window",
    "nvlink.fabric_manager": "NVIDIA Fabric Manager running (HGX NVSwitch systems)",
    "nvlink.nvlsm": "NVLink subnet manager running (B200/B300)",
    "nvlink.imex": "IMEX daemon running and this node READY (NVL72)",
    "nvlink.imex_domain": "IMEX domain membership, as planned",
    # NICs and cables
    "nic.present": "each planned NIC port and its netdev present",
    "nic.state": "port ACTIVE and LinkUp",
    "nic.rate": "port trained at the planned rate",
    "nic.address": "the planned address on the planned netdev",
    "nic.carrier": "carrier present (the cable to the planned leaf port is continuous)",
    "nic.link_flaps": "link downed counter under the flap limit",
    "nic.symbol_errors": "symbol errors under the limit",
    # software
    "software.package": "each planned package installed at its pinned version",
    "software.hold": "each pinned package held",
    "software.dcgm": "DCGM host engine running",
    # storage
    "storage.mount": "each planned mount present",
    "storage.writable": "each planned mount writable",
    "storage.fio": "fio read and write throughput over the planned floor (burn-in)",
    # burn-in outputs
    "burn_in.outputs": "the burn-in outputs of this node exist",
    "burn_in.dcgm_diag": "DCGM diagnostic at the configured level passed",
    "burn_in.nccl_busbw": "NCCL all_reduce bus bandwidth over the SKU's floor",
    "burn_in.nvbandwidth_h2d": "nvbandwidth host-to-device over the SKU's floor",
    "burn_in.nvbandwidth_d2d": "nvbandwidth device-to-device over the SKU's floor",
    "burn_in.ib_write_bw": "ib_write_bw per HCA over the SKU's floor",
}


def check_id(name: str) -> str:
    """`name` if it is a known check id, else KeyError naming the known ones."""
    if name not in CHECKS:
        raise KeyError(f"unknown check {name!r}; known: {', '.join(sorted(CHECKS))}")
    return name

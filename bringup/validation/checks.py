"""Check ids: one short dotted name per thing a node is judged on, in one enum.

Every Finding carries one of these in its `check` field. Judges register under them, the suite's
concern modules run them (one parametrized test per concern: ``Check.of(Concern.GPU)``), and
admission's verdicts name the checks it adds itself (reachability, cable continuity, domain
policy). Admission, dashboards and users' CI key on the ids, so they are the suite's public
vocabulary: add ids, never rename one.

>>> Check("gpu.ecc_uncorrected").concern, Check.GPU_ECC_UNCORRECTED.description
(<Concern.GPU: 'gpu'>, 'uncorrected volatile ECC errors (any fails)')
>>> [c.value for c in Check.of(Concern.SOFTWARE)]
['software.package', 'software.hold', 'software.dcgm']
"""

from __future__ import annotations

from enum import StrEnum


class Concern(StrEnum):
    """What a check is about: one module of the suite (tests/validation/test_<concern>.py) each,
    and checks admission adds on its own."""

    GPU = "gpu"
    NVLINK = "nvlink"
    FABRIC = "fabric"
    SOFTWARE = "software"
    STORAGE = "storage"
    BURN_IN = "burn_in"
    ADMISSION = "admission"
    """Added by admission from what the suite and burn-in report, never run by the suite."""


class Check(StrEnum):
    """A check id, with the concern it belongs to and what it asserts."""

    concern: Concern
    description: str

    def __new__(cls, value: str, concern: Concern, description: str) -> Check:
        member = str.__new__(cls, value)
        member._value_ = value
        member.concern = concern
        member.description = description
        return member

    @classmethod
    def known(cls, value: str) -> Check | None:
        """The check whose id is `value`; None for an id this version does not know (a report
        written by another version of the suite)."""
        member = cls._value2member_map_.get(value)
        return member if isinstance(member, Check) else None

    @classmethod
    def of(cls, concern: Concern) -> tuple[Check, ...]:
        """The checks of one concern, in declaration order."""
        return tuple(c for c in cls if c.concern == concern)

    # GPUs (nvidia-smi -q -x, kernel log)
    GPU_COUNT = "gpu.count", Concern.GPU, "GPUs visible to the driver, as planned"
    GPU_MODEL = "gpu.model", Concern.GPU, "GPU model, as planned"
    GPU_MEMORY = "gpu.memory", Concern.GPU, "GPU framebuffer size, as planned"
    GPU_DRIVER = "gpu.driver", Concern.GPU, "driver version, as planned"
    GPU_PERSISTENCE_MODE = "gpu.persistence_mode", Concern.GPU, "persistence mode enabled"
    GPU_ECC_UNCORRECTED = (
        "gpu.ecc_uncorrected",
        Concern.GPU,
        "uncorrected volatile ECC errors (any fails)",
    )
    GPU_ECC_SRAM_CORRECTED = (
        "gpu.ecc_sram_corrected",
        Concern.GPU,
        "corrected SRAM ECC errors under the threshold",
    )
    GPU_ROW_REMAP = "gpu.row_remap", Concern.GPU, "no row remap pending or failed"
    GPU_XID = "gpu.xid", Concern.GPU, "no Xid of the critical set within the window"
    GPU_PCIE = "gpu.pcie", Concern.GPU, "PCIe link generation and width, as planned"
    GPU_CLOCKS = "gpu.clocks", Concern.GPU, "clocks not held down by a hardware slowdown"
    # NVLink and its daemons
    NVLINK_LINK_STATE = "nvlink.link_state", Concern.NVLINK, "every planned NVLink active"
    NVLINK_SPEED = "nvlink.speed", Concern.NVLINK, "active NVLinks at the planned speed"
    NVLINK_ERRORS = "nvlink.errors", Concern.NVLINK, "no NVLink error (Xid 74) within the window"
    NVLINK_FABRIC_MANAGER = (
        "nvlink.fabric_manager",
        Concern.NVLINK,
        "NVIDIA Fabric Manager running (HGX NVSwitch systems)",
    )
    NVLINK_NVLSM = "nvlink.nvlsm", Concern.NVLINK, "NVLink subnet manager running (B200/B300)"
    NVLINK_IMEX = (
        "nvlink.imex",
        Concern.NVLINK,
        "IMEX daemon running and this node READY (NVL72); stopped where the DRA driver runs IMEX",
    )
    NVLINK_IMEX_DOMAIN = "nvlink.imex_domain", Concern.NVLINK, "IMEX domain membership, as planned"
    # NICs and cables
    NIC_PRESENT = "nic.present", Concern.FABRIC, "each planned NIC port and its netdev present"
    NIC_STATE = "nic.state", Concern.FABRIC, "port ACTIVE and LinkUp"
    NIC_RATE = "nic.rate", Concern.FABRIC, "port trained at the planned rate"
    NIC_ADDRESS = "nic.address", Concern.FABRIC, "the planned address on the planned netdev"
    NIC_MTU = "nic.mtu", Concern.FABRIC, "the planned MTU on the netdev"
    NIC_IPOIB_MODE = "nic.ipoib_mode", Concern.FABRIC, "IPoIB netdev in the planned mode"
    NIC_ROUTING = (
        "nic.routing",
        Concern.FABRIC,
        "the rail's source rule and its table's routes (subnet, gateway), as planned",
    )
    NIC_CARRIER = (
        "nic.carrier",
        Concern.FABRIC,
        "carrier present (the cable to the planned leaf port is continuous)",
    )
    NIC_LINK_FLAPS = "nic.link_flaps", Concern.FABRIC, "link downed counter under the flap limit"
    NIC_SYMBOL_ERRORS = "nic.symbol_errors", Concern.FABRIC, "symbol errors under the limit"
    # software
    SOFTWARE_PACKAGE = (
        "software.package",
        Concern.SOFTWARE,
        "each planned package installed at its pinned version",
    )
    SOFTWARE_HOLD = "software.hold", Concern.SOFTWARE, "each pinned package held"
    SOFTWARE_DCGM = "software.dcgm", Concern.SOFTWARE, "DCGM host engine running"
    # storage
    STORAGE_MOUNT = "storage.mount", Concern.STORAGE, "each planned mount present"
    STORAGE_WRITABLE = "storage.writable", Concern.STORAGE, "each planned mount writable"
    STORAGE_OPTIONS = (
        "storage.options",
        Concern.STORAGE,
        "each planned mount's options in effect, as the kernel shows them",
    )
    STORAGE_FIO = (
        "storage.fio",
        Concern.STORAGE,
        "fio read and write throughput over the planned floor (burn-in)",
    )
    # burn-in outputs
    BURN_IN_OUTPUTS = "burn_in.outputs", Concern.BURN_IN, "the burn-in outputs of this node exist"
    BURN_IN_DCGM_DIAG = (
        "burn_in.dcgm_diag",
        Concern.BURN_IN,
        "DCGM diagnostic at the configured level passed",
    )
    BURN_IN_NCCL_BUSBW = (
        "burn_in.nccl_busbw",
        Concern.BURN_IN,
        "NCCL all_reduce bus bandwidth over the SKU's floor",
    )
    BURN_IN_NVBANDWIDTH_H2D = (
        "burn_in.nvbandwidth_h2d",
        Concern.BURN_IN,
        "nvbandwidth host-to-device over the SKU's floor",
    )
    BURN_IN_NVBANDWIDTH_D2D = (
        "burn_in.nvbandwidth_d2d",
        Concern.BURN_IN,
        "nvbandwidth device-to-device over the SKU's floor",
    )
    BURN_IN_IB_WRITE_BW = (
        "burn_in.ib_write_bw",
        Concern.BURN_IN,
        "ib_write_bw per HCA over the SKU's floor",
    )
    # added by admission
    NODE_REACHABLE = "node.reachable", Concern.ADMISSION, "the node answered over SSH"
    SUITE_RAN = "suite.ran", Concern.ADMISSION, "the suite ran at least one test on the node"
    BURN_IN_PLAYBOOK = (
        "burn_in.playbook",
        Concern.ADMISSION,
        "the burn-in playbook completed on the node",
    )
    CABLE_CONTINUITY = (
        "cable.continuity",
        Concern.ADMISSION,
        "a NIC down whose far end is down too: the cable",
    )
    ATTRIBUTION_NCCL_FABRIC = (
        "attribution.nccl_fabric",
        Concern.ADMISSION,
        "NCCL low while every GPU and NVLink check passed: the NVLink domain",
    )
    DOMAIN_UNIT = "domain.unit", Concern.ADMISSION, "every node of the NVLink domain healthy"
    DOMAIN_QUORUM = (
        "domain.quorum",
        Concern.ADMISSION,
        "enough nodes of the NVLink domain healthy for its quorum",
    )


SUITE_CONCERNS = tuple(c for c in Concern if c != Concern.ADMISSION)
"""The concerns the suite runs, one test module each."""

SUITE_SOURCES = ("tests/validation", "bringup/validation")
"""What the suite is made of, relative to the repository: a change there judges every rack
again (their hash is an input of each Admission resource)."""

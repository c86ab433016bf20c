"""The shape of a lab node's hardware profile: what the writer emits, the tools read, faults change.

A profile stays plain JSON on disk and plain dicts in memory; these TypedDicts give it one typed
shape that the profile writer (bringup.lab.profile.node_profile), the emulated tools of this
package and the fault kinds (bringup.lab.faults) share. No conversion, no validation: the tools
import this module for the type checker only, so a tool's start-up does not pay for it.

>>> sorted(Profile.__required_keys__)[:4]
['driver', 'faults', 'gpus', 'hostname']
"""

from typing import Literal, NotRequired, TypedDict

# No `from __future__ import annotations` here: TypedDict sees NotRequired[...] only in evaluated
# annotations, and __required_keys__ is what a test checks profiles against.

PortState = Literal["Active", "Down", "Init", "Initializing", "Armed"]
"""A port's logical state, as ibstat prints it."""
PhysicalState = Literal["LinkUp", "Disabled", "Polling", "Sleep", "LinkErrorRecovery"]
"""A port's physical state, as ibstat prints it."""
ServiceState = Literal["running", "failed", "stopped"]
"""What a daemon of the node does when started."""


class Clocks(TypedDict):
    """A GPU's clocks in MHz; the maxima are the current clocks unless given."""

    sm_mhz: int
    mem_mhz: int
    max_sm_mhz: NotRequired[int]
    max_mem_mhz: NotRequired[int]


class PcieLink(TypedDict):
    """A GPU's PCIe link: the generation and width it trained at, and the most it can do."""

    gen: int
    width: int
    max_gen: int
    max_width: int


class EccCounters(TypedDict):
    """A GPU's ECC error counts: DRAM volatile and aggregate, and SRAM."""

    volatile_corrected: int
    volatile_uncorrected: int
    aggregate_corrected: int
    aggregate_uncorrected: int
    sram_corrected: int
    sram_uncorrected: int


class RowRemap(TypedDict):
    """A GPU's row remapper: rows remapped for each kind of error, a pending remap, a failure."""

    correctable: int
    uncorrectable: int
    pending: bool
    failure: bool


class LinkErrors(TypedDict):
    """Error counters of one NVLink."""

    replay: int
    recovery: int
    crc: int


class NvLinkState(TypedDict):
    """One NVLink of a GPU: up or not, at what speed (MB/s per direction)."""

    link: int
    active: bool
    speed_mbps: int
    errors: LinkErrors


class GpuProfile(TypedDict):
    """One GPU: identity, bus address, sensors, and the state faults change."""

    index: int
    name: str
    architecture: str
    serial: str
    uuid: str
    pci_bus_id: str
    present: bool
    """False once the GPU has fallen off the bus."""
    persistence_mode: bool
    memory_total_mib: int
    memory_used_mib: int
    temperature_c: int
    power_draw_w: float
    power_limit_w: float
    utilization_pct: int
    clocks: Clocks
    throttle_reasons: list[str]
    """Active clock event reasons, by their names in _gpu.THROTTLE_REASONS."""
    pcie: PcieLink
    pcie_replays: NotRequired[int]
    ecc: EccCounters
    row_remap: RowRemap
    nvlinks: list[NvLinkState]


class NicProfile(TypedDict):
    """One NIC port: the plan's fabric, rail and address, the HCA's identity and port state."""

    device: str
    port: int
    netdev: str
    fabric: str
    role: str
    rail: int
    plane: int
    model: str
    ca_type: str
    firmware: str
    link_layer: Literal["InfiniBand", "Ethernet"]
    node_guid: str
    port_guid: str
    state: PortState
    physical_state: PhysicalState
    rate_gbps: int
    lid: int
    sm_lid: int
    address: str
    prefix: int
    counters: dict[str, int]
    """PMA counters by perfquery's names in snake_case (symbol_errors...); absent ones read 0."""


class ImexPeerState(TypedDict):
    """An IMEX peer in a state other than READY (a degraded domain)."""

    address: str
    state: str


class NvlinkDomain(TypedDict):
    """The NVLink domain of the node's GPUs: its name, GPUs, and IMEX peers by address."""

    name: str
    gpus: int
    imex_peers: list[str | ImexPeerState]
    unavailable_peers: NotRequired[list[str]]


class Driver(TypedDict):
    """The GPU driver's version and the CUDA version it supports; None on a CPU node."""

    version: str | None
    cuda: str | None


class XidEvent(TypedDict):
    """An Xid the driver reported for a GPU."""

    gpu: int
    xid: int
    pci_bus_id: str


class Performance(TypedDict):
    """What the benchmarks measure on this node when healthy."""

    nccl_busbw_gbs: float
    nvbandwidth_h2d_gbs: float
    nvbandwidth_d2d_gbs: float
    ib_write_bw_gbps: float


class FaultNote(TypedDict):
    """A fault injected into the node, as `bringup lab fault` described it."""

    kind: str
    description: str


class Profile(TypedDict):
    """A node's whole hardware profile."""

    node: str
    sku: str
    hostname: str
    driver: Driver
    gpus: list[GpuProfile]
    nics: list[NicProfile]
    nvlink_domain: NvlinkDomain | None
    services: dict[str, ServiceState]
    xid_events: list[XidEvent]
    performance: Performance
    mounts: list[str]
    faults: list[FaultNote]

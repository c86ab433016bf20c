"""GPU checks: what nvidia-smi -q -x and the kernel log say about each GPU, against the plan.

Components are ``gpu:<host>/<index>`` with the serial as an attribute. A GPU that fell off the
bus is named by the index NVML would give it: NVML orders GPUs by PCI bus id, and nvidia-smi
still prints the lost GPU's bus id ("Unable to determine the device handle for GPU…").

Thresholds (SKU catalog, DOMAIN.md §5): uncorrected volatile ECC > ecc_uncorrected_max fails;
corrected SRAM ECC > ecc_sram_corrected_max fails; a pending (unless allowed) or failed row
remap fails; any Xid of xid_critical within xid_window_hours fails; the PCIe link must reach the
planned generation (the link's max, since an idle GPU trains down) and width; a hardware
slowdown holding the clocks fails. On a node admission revalidates after a repair, the Xids
logged before the repair do not count (`recent_xids`).
"""

from __future__ import annotations

from bringup.catalog.model import Gpu
from bringup.parsers.nvidia_smi import GpuInfo
from bringup.parsers.xid import FALLEN_OFF_BUS_XID, XidEvent
from bringup.validation.checks import Check
from bringup.validation.judge import HAS_GPUS, Judges
from bringup.validation.node import Node, NodeProblem, short_bus
from bringup.validation.report import Finding

judges = Judges()

HW_SLOWDOWN = ("hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown")


def planned(node: Node) -> Gpu:
    """The node's planned GPUs (the GPU checks apply only where there are some)."""
    if node.expected.gpu is None:
        raise NodeProblem("plan", "no GPUs planned")
    return node.expected.gpu


def _gpu(node: Node, gpu: GpuInfo) -> tuple[str, dict[str, str]]:
    index = node.gpu_index_by_bus.get(short_bus(gpu.bus_id or ""), gpu.index)
    attributes = {"serial": gpu.serial} if gpu.serial else {}
    if gpu.bus_id:
        attributes["pci"] = gpu.bus_id
    return f"gpu:/{index}", attributes


@judges.of(Check.GPU_COUNT, when=HAS_GPUS)
def count(node: Node) -> list[Finding]:
    """Every planned GPU visible; a lost GPU is named by its bus id's index."""
    want = node.expected.gpu_count
    seen = len(node.smi.gpus)
    if seen == want and not node.lost_gpus:
        return []
    lost = [
        node.finding(
            f"gpu:/{node.gpu_index_by_bus[short_bus(bus)]}",
            Check.GPU_COUNT,
            "lost (fallen off the bus)",
            "visible to the driver",
            evidence=node.smi_text.split("<?xml")[0],
            attributes={"pci": bus},
        )
        for bus in node.lost_gpus
    ]
    if lost and seen + len(lost) == want:
        return lost
    return [*lost, node.finding("node", Check.GPU_COUNT, f"{seen} GPUs", f"{want} GPUs")]


def _per_gpu(node: Node, check: str, test: object) -> list[Finding]:
    found = []
    for gpu in node.smi.gpus:
        verdict = test(gpu)  # type: ignore[operator]
        if verdict is not None:
            observed, expected = verdict
            component, attributes = _gpu(node, gpu)
            found.append(node.finding(component, check, observed, expected, attributes=attributes))
    return found


@judges.of(Check.GPU_MODEL, when=HAS_GPUS)
def model(node: Node) -> list[Finding]:
    """The planned model on every GPU."""
    want = planned(node).model
    return _per_gpu(node, Check.GPU_MODEL, lambda g: None if g.name == want else (g.name, want))


@judges.of(Check.GPU_MEMORY, when=HAS_GPUS)
def memory(node: Node) -> list[Finding]:
    """Framebuffer within 1% of the planned size (drivers reserve slightly different amounts)."""
    want = planned(node).memory_mib

    def test(gpu: GpuInfo) -> tuple[str, str] | None:
        have = gpu.fb_total_mib
        if have is not None and abs(have - want) <= want * 0.01:
            return None
        return f"{have} MiB", f"{want} MiB"

    return _per_gpu(node, Check.GPU_MEMORY, test)


@judges.of(Check.GPU_DRIVER, when=HAS_GPUS)
def driver(node: Node) -> list[Finding]:
    """The planned driver version."""
    want = node.expected.software.driver if node.expected.software else None
    have = node.smi.driver_version
    if want is None or have == want:
        return []
    return [node.finding("package:/nvidia-driver", Check.GPU_DRIVER, have, want)]


@judges.of(Check.GPU_PERSISTENCE_MODE, when=HAS_GPUS)
def persistence(node: Node) -> list[Finding]:
    """Persistence mode on (the driver stays loaded between jobs)."""
    return _per_gpu(
        node,
        Check.GPU_PERSISTENCE_MODE,
        lambda g: None if g.persistence_mode else (g.persistence_mode, "Enabled"),
    )


@judges.of(Check.GPU_ECC_UNCORRECTED, when=HAS_GPUS)
def ecc_uncorrected(node: Node) -> list[Finding]:
    """Uncorrected volatile ECC errors (DRAM and SRAM) over the limit (0)."""
    limit = int(node.expected.threshold("ecc_uncorrected_max") or 0)

    def test(gpu: GpuInfo) -> tuple[str, str] | None:
        if gpu.ecc is None:
            return None
        v = gpu.ecc.volatile
        total = sum(
            x or 0
            for x in (
                v.dram_uncorrectable,
                v.sram_uncorrectable,
                v.sram_uncorrectable_parity,
                v.sram_uncorrectable_secded,
            )
        )
        return None if total <= limit else (f"{total} uncorrected", f"<= {limit}")

    return _per_gpu(node, Check.GPU_ECC_UNCORRECTED, test)


@judges.of(Check.GPU_ECC_SRAM_CORRECTED, when=HAS_GPUS)
def ecc_sram_corrected(node: Node) -> list[Finding]:
    """Corrected SRAM errors (aggregate) over the limit, or the driver's SRAM threshold hit."""
    limit = int(node.expected.threshold("ecc_sram_corrected_max") or 10000)

    def test(gpu: GpuInfo) -> tuple[str, str] | None:
        if gpu.ecc is None:
            return None
        corrected = gpu.ecc.aggregate.sram_correctable or 0
        if corrected > limit or gpu.ecc.sram_threshold_exceeded:
            return f"{corrected} corrected SRAM", f"<= {limit}"
        return None

    return _per_gpu(node, Check.GPU_ECC_SRAM_CORRECTED, test)


@judges.of(Check.GPU_ROW_REMAP, when=HAS_GPUS)
def row_remap(node: Node) -> list[Finding]:
    """No row remap pending (a reset is due) or failed (the GPU is out of spare rows)."""
    allowed = node.expected.thresholds.row_remap_pending_allowed

    def test(gpu: GpuInfo) -> tuple[str, str] | None:
        rows = gpu.remapped_rows
        if rows is None:
            return None
        if rows.failure:
            return "row remap failed", "no failure"
        if rows.pending and not allowed:
            return "row remap pending", "none pending"
        return None

    return _per_gpu(node, Check.GPU_ROW_REMAP, test)


def recent_xids(node: Node, numbers: set[int]) -> list[XidEvent]:
    """Events of `numbers` within the window (an event whose age cannot be told counts). A GPU
    fallen off the bus stays lost until the node reboots: that event counts at any age, as long
    as it happened since the last boot.

    On a node being revalidated (`Node.repaired_at`), an event the driver logged before the
    repair does not count, Xid 79 included: the repair reset, reseated or replaced the GPU
    (one still lost is gpu.count's finding). One whose time cannot be told still counts. The
    repair mark is stamped by the controller's clock and the events by the node's: the two are
    taken to agree (NTP), and the node's clock section turns an uptime stamp into a time.
    """
    window = float(node.expected.threshold("xid_window_hours") or 2.0) * 3600
    uptime, epoch = node.clock
    repaired = node.repaired_at.timestamp() if node.repaired_at is not None else None
    recent = []
    for event in node.xids:
        if event.xid not in numbers:
            continue
        if repaired is not None and logged_before(event, repaired, (uptime, epoch)):
            continue
        if event.xid == FALLEN_OFF_BUS_XID and (
            event.uptime_seconds is None or event.uptime_seconds <= uptime
        ):
            recent.append(event)
            continue
        if event.uptime_seconds is not None and 0 <= uptime - event.uptime_seconds > window:
            continue
        stamped = event.timestamp is not None and event.timestamp.tzinfo is not None
        if stamped and epoch - event.timestamp.timestamp() > window:  # type: ignore[union-attr]
            continue
        recent.append(event)
    return recent


def logged_before(event: XidEvent, moment: float, clock: tuple[float, int]) -> bool:
    """Whether the driver logged `event` before `moment` (epoch seconds), as far as the node's
    `clock` (uptime, epoch) tells: by the event's zoned timestamp; else by its uptime stamp, at
    boot + stamp when the stamp is within this boot's uptime, and before this boot began when it
    is past it (an earlier boot's line, kept in kern.log). A naive or yearless timestamp with
    no uptime stamp tells nothing: False.

    >>> from bringup.parsers.xid import parse_xid_log
    >>> event, = parse_xid_log("[ 100.0] NVRM: Xid (PCI:0000:18:00): 48, pid=1, DBE")
    >>> logged_before(event, 1_000_000.0, (3600.0, 1_000_000))  # logged 3500 s ago
    True
    """
    uptime, epoch = clock
    if event.timestamp is not None and event.timestamp.tzinfo is not None:
        return event.timestamp.timestamp() < moment
    if event.uptime_seconds is None:
        return False
    boot = epoch - uptime
    if event.uptime_seconds > uptime:
        return boot <= moment
    return boot + event.uptime_seconds < moment


def xid_component(node: Node, event: XidEvent) -> str:
    index = node.gpu_index_by_bus.get(short_bus(event.pci_address))
    return f"gpu:/{index}" if index is not None else "node"


@judges.of(Check.GPU_XID, when=HAS_GPUS)
def xid(node: Node) -> list[Finding]:
    """Xids of the critical set in the kernel log within the window, per GPU."""
    critical = set(node.expected.thresholds.xid_critical)
    window = node.expected.threshold("xid_window_hours")
    by_component: dict[str, list[XidEvent]] = {}
    for event in recent_xids(node, critical):
        by_component.setdefault(xid_component(node, event), []).append(event)
    return [
        node.finding(
            component,
            Check.GPU_XID,
            _observed(events),
            f"no critical Xid within {window} h",
            evidence="\n".join(dict.fromkeys(e.message for e in events)),
            attributes={"pci": events[0].pci_address},
        )
        for component, events in sorted(by_component.items())
    ]


def _observed(events: list[XidEvent]) -> str:
    """'Xid 79, 119', with 'fallen off the bus' when the driver said so without an Xid line."""
    xids = sorted({e.xid for e in events if e.kind == "xid"})
    parts = ["Xid " + ", ".join(str(x) for x in xids)] if xids else []
    if any(e.kind == "fallen-off-bus" for e in events):
        parts.append("fallen off the bus")
    return "; ".join(parts)


@judges.of(Check.GPU_PCIE, when=HAS_GPUS)
def pcie(node: Node) -> list[Finding]:
    """Link generation (max the link trains to) and width as planned."""
    gen, width = planned(node).pcie_gen, planned(node).pcie_width

    def test(gpu: GpuInfo) -> tuple[str, str] | None:
        link = gpu.pcie
        if link is None:
            return "no PCIe link information", f"Gen{gen} x{width}"
        have_gen = link.gen_max if link.gen_max is not None else link.gen_current
        have_width = link.width_current
        if (gen is None or have_gen == gen) and (width is None or have_width == width):
            return None
        return f"Gen{have_gen} x{have_width}", f"Gen{gen} x{width}"

    return _per_gpu(node, Check.GPU_PCIE, test)


@judges.of(Check.GPU_CLOCKS, when=HAS_GPUS)
def clocks(node: Node) -> list[Finding]:
    """No hardware slowdown (thermal, power brake) holding the clocks down."""

    def test(gpu: GpuInfo) -> tuple[str, str] | None:
        active = [r for r in HW_SLOWDOWN if gpu.clock_event_reasons.get(r)]
        return None if not active else (",".join(active), "no hardware slowdown")

    return _per_gpu(node, Check.GPU_CLOCKS, test)

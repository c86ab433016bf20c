"""The Xid judges on a node revalidated after a repair: what the driver logged before the repair
does not count, what came after it does, and so does an event whose time cannot be told."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bringup.lab.emulator.xid import xid_line
from bringup.parsers.xid import parse_xid_log
from bringup.validation.checks import Check
from bringup.validation.judges import run_judge
from bringup.validation.judges.gpu import logged_before
from tests.unit.validation.conftest import EPOCH, HGX, NodeCase

UPTIME = 50_000.0
"""The node's uptime when collected (at EPOCH): up long before the repair."""
REPAIR_AGO_S = 600.0
"""The repair was marked ten minutes before the collection, well inside the 2 h window."""
REPAIRED_AT = datetime.fromtimestamp(EPOCH - REPAIR_AGO_S, UTC)


def _at(seconds_after_repair: float) -> float:
    """The node's uptime stamp of a moment relative to the repair."""
    return UPTIME - REPAIR_AGO_S + seconds_after_repair


def _iso(seconds_after_repair: float) -> str:
    return datetime.fromtimestamp(EPOCH - REPAIR_AGO_S + seconds_after_repair, UTC).isoformat()


@pytest.fixture
def case(make_case: Callable[[str], NodeCase]) -> NodeCase:
    """An HGX node whose GPU 0 was reset after Xid 48 and 63, and whose GPU 3 fell off the bus
    at boot and was reseated, all before the repair."""
    case = make_case(HGX)
    case.uptime = UPTIME
    gpu0, gpu3 = (case.profile["gpus"][i]["pci_bus_id"] for i in (0, 3))
    case.kernel_lines += [
        xid_line({"xid": 79, "pci_bus_id": gpu3, "uptime": 9.5}),
        xid_line({"xid": 48, "pci_bus_id": gpu0, "uptime": _at(-120)}),
        xid_line({"xid": 63, "pci_bus_id": gpu0, "uptime": _at(-60)}),
    ]
    return case


def _components(case: NodeCase, check: Check = Check.GPU_XID) -> list[str]:
    return [f.component for f in run_judge(check, case.node())]


def test_a_node_not_being_revalidated_is_judged_on_all_of_its_log(case: NodeCase) -> None:
    assert _components(case) == [f"gpu:{HGX}/0", f"gpu:{HGX}/3"]


def test_the_xids_before_the_repair_do_not_count(case: NodeCase) -> None:
    case.repaired_at = REPAIRED_AT
    assert _components(case) == []


def test_an_xid_after_the_repair_fails_the_node(case: NodeCase) -> None:
    case.repaired_at = REPAIRED_AT
    gpu5 = case.profile["gpus"][5]["pci_bus_id"]
    case.kernel_lines.append(xid_line({"xid": 64, "pci_bus_id": gpu5, "uptime": _at(30)}))
    (finding,) = run_judge(Check.GPU_XID, case.node())
    assert (finding.component, finding.observed) == (f"gpu:{HGX}/5", "Xid 64")


def test_an_xid_of_unknown_age_still_counts(case: NodeCase) -> None:
    """A syslog line with no uptime stamp: no year, no zone, so no telling when it was."""
    case.repaired_at = REPAIRED_AT
    address = case.profile["gpus"][2]["pci_bus_id"][4:].lower()
    case.kernel_lines.append(
        f"Nov 25 04:00:00 {HGX} kernel: NVRM: Xid (PCI:{address}): 48, pid=1, name=x, DBE"
    )
    assert _components(case) == [f"gpu:{HGX}/2"]


def test_nvlink_errors_before_the_repair_do_not_count(case: NodeCase) -> None:
    gpu1 = case.profile["gpus"][1]["pci_bus_id"]
    case.kernel_lines.append(xid_line({"xid": 74, "pci_bus_id": gpu1, "uptime": _at(-30)}))
    assert _components(case, Check.NVLINK_ERRORS) == [f"nvlink:{HGX}/gpu1/link0"]
    case.repaired_at = REPAIRED_AT
    assert _components(case, Check.NVLINK_ERRORS) == []
    case.kernel_lines.append(xid_line({"xid": 74, "pci_bus_id": gpu1, "uptime": _at(30)}))
    assert _components(case, Check.NVLINK_ERRORS) == [f"nvlink:{HGX}/gpu1/link0"]


XID = "NVRM: Xid (PCI:0000:18:00): 48, pid=1, name=x, DBE"


@pytest.mark.parametrize(
    ("line", "uptime", "before"),
    [
        (f"[{_at(-1):.6f}] {XID}", UPTIME, True),
        (f"[{_at(1):.6f}] {XID}", UPTIME, False),
        (f"{_iso(-1)} {HGX} kernel: {XID}", UPTIME, True),
        (f"{_iso(1)} {HGX} kernel: {XID}", UPTIME, False),
        # the zoned timestamp is the event's time, whatever its uptime stamp says
        (f"{_iso(1)} {HGX} kernel: [{_at(-1):.6f}] {XID}", UPTIME, False),
        # past this boot's uptime: an earlier boot's line, before a boot that preceded the repair
        (f"[{UPTIME + 1:.6f}] {XID}", UPTIME, True),
        # ...but the node booted after the repair: that line may be from after the repair too
        (f"[{UPTIME + 1:.6f}] {XID}", REPAIR_AGO_S - 60, False),
        (f"[Mon Nov 23 04:00:00 2026] {XID}", UPTIME, False),  # dmesg -T: local, zone unknown
        (f"Nov 23 04:00:00 {HGX} kernel: {XID}", UPTIME, False),  # syslog: no year
    ],
)
def test_logged_before_tells_only_what_the_line_says(
    line: str, uptime: float, before: bool
) -> None:
    (event,) = parse_xid_log(line)
    assert logged_before(event, REPAIRED_AT.timestamp(), (uptime, EPOCH)) is before

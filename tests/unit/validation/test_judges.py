"""The judges on emulated node outputs: a healthy node has no finding; each fault is named."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bringup.lab.emulator.xid import xid_line
from bringup.validation.checks import Check, Concern
from bringup.validation.collect import NodeOutputs
from bringup.validation.judges import JUDGES, run_judge
from bringup.validation.node import Node
from tests.unit.validation.conftest import CPU, HGX, TRAY, NodeCase

LIVE_CHECKS = sorted(c for c in JUDGES if not JUDGES[c].burn_in)
assert len(LIVE_CHECKS) > 20
assert not {c for c in LIVE_CHECKS if c.concern == Concern.BURN_IN}


@pytest.mark.parametrize("name", [HGX, TRAY, CPU])
def test_healthy_node_has_no_findings(make_case: Callable[[str], NodeCase], name: str) -> None:
    node = make_case(name).node()
    found = {check: run_judge(check, node) for check in LIVE_CHECKS}
    assert {c: [f.line() for f in fs] for c, fs in found.items() if fs} == {}


# fault kind, options, node, expected component (host part left out), check
CASES = [
    ("gpu-off-bus", {"gpu": 3}, TRAY, "gpu:{}/3", Check.GPU_COUNT),
    ("ecc-uncorrectable", {"gpu": 2}, HGX, "gpu:{}/2", Check.GPU_ECC_UNCORRECTED),
    ("row-remap-pending", {"gpu": 1}, HGX, "gpu:{}/1", Check.GPU_ROW_REMAP),
    (
        "nvlink-inactive",
        {"gpu": 2, "link": 7},
        HGX,
        "nvlink:{}/gpu2/link7",
        Check.NVLINK_LINK_STATE,
    ),
    ("xid", {"gpu": 5, "xid": 119}, HGX, "gpu:{}/5", Check.GPU_XID),
    ("ib-rate", {"device": "mlx5_3"}, HGX, "nic:{}/rail2", Check.NIC_RATE),
    ("symbol-errors", {"count": 500}, TRAY, "nic:{}/rail1", Check.NIC_SYMBOL_ERRORS),
]


@pytest.mark.parametrize(("kind", "options", "name", "component", "check"), CASES)
def test_fault_is_named(
    make_case: Callable[[str], NodeCase],
    kind: str,
    options: dict[str, int | str],
    name: str,
    component: str,
    check: str,
) -> None:
    case = make_case(name)
    case.fault(kind, **options)
    findings = run_judge(check, case.node())
    assert [f.component for f in findings] == [component.format(name)]
    assert all(f.check == check for f in findings)


def test_gpu_finding_carries_the_serial(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    case.fault("ecc-uncorrectable", gpu=4, count=3)
    (finding,) = run_judge(Check.GPU_ECC_UNCORRECTED, case.node())
    assert finding.attributes["serial"] == case.profile["gpus"][4]["serial"]
    assert finding.observed == "3 uncorrected"


def test_nic_finding_names_cable_and_leaf(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    case.fault("ib-rate", device="mlx5_6", value=200)
    (finding,) = run_judge(Check.NIC_RATE, case.node())
    assert finding.component == f"nic:{HGX}/rail5"
    assert finding.attributes["cable"] == f"{HGX}:mlx5_6/1"
    assert finding.attributes["leaf"] == "compute-p1-su01-r5-l1"
    assert (finding.observed, finding.expected) == ("200 Gb/s", "400 Gb/s")


def test_several_bad_components_in_one_check(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    for gpu in (1, 6):
        case.fault("row-remap-pending", gpu=gpu)
    components = [f.component for f in run_judge(Check.GPU_ROW_REMAP, case.node())]
    assert components == [f"gpu:{HGX}/1", f"gpu:{HGX}/6"]


def test_old_xid_is_outside_the_window(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    case.uptime = 50_000.0
    bus = case.profile["gpus"][0]["pci_bus_id"]
    old = case.uptime - 3 * 3600
    case.kernel_lines.append(xid_line({"xid": 48, "pci_bus_id": bus, "uptime": old}))
    assert run_judge(Check.GPU_XID, case.node()) == []
    case.kernel_lines.append(xid_line({"xid": 48, "pci_bus_id": bus, "uptime": case.uptime - 60}))
    assert [f.component for f in run_judge(Check.GPU_XID, case.node())] == [f"gpu:{HGX}/0"]


def test_a_gpu_fallen_off_the_bus_counts_at_any_age_since_boot(
    make_case: Callable[[str], NodeCase],
) -> None:
    """Lost stays lost until a reboot: the window does not age a lost GPU out."""
    case = make_case(HGX)
    case.uptime = 50_000.0
    bus = case.profile["gpus"][0]["pci_bus_id"]
    case.kernel_lines.append(xid_line({"xid": 79, "pci_bus_id": bus, "uptime": 9.5}))
    (finding,) = run_judge(Check.GPU_XID, case.node())
    assert (finding.component, finding.observed) == (f"gpu:{HGX}/0", "Xid 79")


def test_a_lost_gpu_with_no_xid_line_fails_the_node(make_case: Callable[[str], NodeCase]) -> None:
    """The driver's own line, as on a Hopper security fault: no Xid 79 is printed at all."""
    case = make_case(HGX)
    bus = case.profile["gpus"][2]["pci_bus_id"]  # as nvidia-smi prints it: 00000000:3A:00.0
    address = bus[4:].lower()  # the driver's form: 0000:3a:00.0
    line = f"[{case.uptime - 30:.6f}] NVRM: GPU {address}: GPU has fallen off the bus."
    case.kernel_lines.append(line)
    (finding,) = run_judge(Check.GPU_XID, case.node())
    assert finding.component == f"gpu:{HGX}/2"
    assert finding.observed == "fallen off the bus"


def test_non_critical_xid_passes(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    bus = case.profile["gpus"][0]["pci_bus_id"]
    case.kernel_lines.append(xid_line({"xid": 13, "pci_bus_id": bus, "uptime": case.uptime}))
    assert run_judge(Check.GPU_XID, case.node()) == []


def test_dead_daemon_is_the_service(make_case: Callable[[str], NodeCase]) -> None:
    hgx, tray = make_case(HGX), make_case(TRAY)
    hgx.profile["services"]["nvidia-fabricmanager"] = "failed"
    tray.profile["services"]["nvidia-imex"] = "failed"
    (fm,) = run_judge(Check.NVLINK_FABRIC_MANAGER, hgx.node())
    (imex,) = run_judge(Check.NVLINK_IMEX, tray.node())
    assert fm.component == f"service:{HGX}/nvidia-fabricmanager"
    assert imex.component == f"service:{TRAY}/nvidia-imex"


def test_where_the_dra_driver_runs_imex_a_running_host_imex_is_the_finding(
    make_dra_case: Callable[[str], NodeCase],
) -> None:
    case = make_dra_case(TRAY)
    assert "nvidia-imex" not in case.profile["services"]  # the healthy tray runs none
    case.profile["services"]["nvidia-imex"] = "running"  # started again by an upgrade, say
    node = case.node()
    (finding,) = run_judge(Check.NVLINK_IMEX, node)
    assert finding.component == f"service:{TRAY}/nvidia-imex"
    assert (finding.observed, finding.expected) == (
        "running on the host",
        "stopped: the DRA driver owns IMEX",
    )
    assert run_judge(Check.NVLINK_IMEX_DOMAIN, node) == []  # the driver's domains, not the host's


@pytest.mark.parametrize("state", ["stopped", "failed", None], ids=["stopped", "failed", "absent"])
def test_where_the_dra_driver_runs_imex_a_host_imex_not_running_passes(
    make_dra_case: Callable[[str], NodeCase], state: str | None
) -> None:
    case = make_dra_case(TRAY)
    if state is not None:
        case.profile["services"]["nvidia-imex"] = state
    node = case.node()
    assert not node.outputs.has("imex-ctl")
    assert run_judge(Check.NVLINK_IMEX, node) == []
    assert run_judge(Check.NVLINK_IMEX_DOMAIN, node) == []


def test_where_the_dra_driver_runs_imex_an_uncollected_host_imex_is_named(
    make_dra_case: Callable[[str], NodeCase],
) -> None:
    node = make_dra_case(TRAY).node()
    sections = {k: v for k, v in node.outputs.sections.items() if k != "service:nvidia-imex"}
    (finding,) = run_judge(Check.NVLINK_IMEX, Node(node.expected, NodeOutputs(TRAY, sections)))
    assert (finding.component, finding.observed) == (f"node:{TRAY}", "not collected")
    assert finding.expected == "readable service:nvidia-imex output"


def test_imex_peer_missing_from_the_domain(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(TRAY)
    case.profile["nvlink_domain"]["imex_peers"].pop()
    (finding,) = run_judge(Check.NVLINK_IMEX_DOMAIN, case.node())
    assert "10.64.0.20" in finding.observed


def test_port_down_and_cable_cut(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(TRAY)
    nic = case.profile["nics"][0]
    nic["state"], nic["physical_state"] = "Down", "Polling"
    node = case.node()
    assert [f.component for f in run_judge(Check.NIC_STATE, node)] == [f"nic:{TRAY}/rail1"]
    assert [f.component for f in run_judge(Check.NIC_CARRIER, node)] == [f"nic:{TRAY}/rail1"]


def test_missing_mount(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(CPU)
    case.profile["mounts"].remove("/mnt/shared")
    node = case.node()
    assert [f.component for f in run_judge(Check.STORAGE_MOUNT, node)] == [
        f"mount:{CPU}/mnt/shared"
    ]
    assert [f.check for f in run_judge(Check.STORAGE_WRITABLE, node)] == [Check.STORAGE_WRITABLE]


def test_package_at_another_version_and_not_held(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    node = case.node()
    pin = case.host.expected.packages[0]
    text = node.outputs.text("dpkg").replace(pin.version, "999.0")
    case.overrides["dpkg"] = (text.replace("\thi ", "\tii "), 0)  # installed, not held
    node = case.node()
    (finding,) = run_judge(Check.SOFTWARE_PACKAGE, node)
    assert finding.component == f"package:{HGX}/{pin.name}"
    assert finding.observed.startswith("999.0")
    assert len(run_judge(Check.SOFTWARE_HOLD, node)) == len(case.host.expected.packages)


def test_failed_tool_is_a_node_finding(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    case.overrides["nvidia-smi-xml"] = ("NVIDIA-SMI has failed\n", 9)
    (finding,) = run_judge(Check.GPU_COUNT, case.node())
    assert finding.component == f"node:{HGX}"
    assert "NVIDIA-SMI has failed" in finding.observed


def test_lost_gpu_leaves_the_other_gpus_judged(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(TRAY)
    case.fault("gpu-off-bus", gpu=1)
    node = case.node()
    (xid,) = run_judge(Check.GPU_XID, node)
    assert xid.component == f"gpu:{TRAY}/1"
    assert run_judge(Check.NVLINK_LINK_STATE, node) == []
    assert run_judge(Check.GPU_MODEL, node) == []

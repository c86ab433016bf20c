"""Each health check's rule: how bad its findings are and what to do, on the judges' own
findings of the lab's faults (and, where the lab has no fault, of a profile changed by hand)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bringup.health.checks import HEALTH_CHECKS, RULES, advise, judge_health, xid_numbers
from bringup.health.verdict import Action, Severity
from bringup.validation.checks import Check
from bringup.validation.collect import ipoib_mode_section
from bringup.validation.judges import JUDGES
from bringup.validation.report import Finding
from tests.unit.validation.conftest import CPU, HGX, TRAY, NodeCase

CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING


def test_the_health_checks_are_the_designed_fast_subset() -> None:
    assert set(HEALTH_CHECKS) == {
        Check.GPU_COUNT, Check.GPU_ECC_UNCORRECTED, Check.GPU_ROW_REMAP, Check.GPU_XID,
        Check.NVLINK_LINK_STATE, Check.NVLINK_ERRORS, Check.NVLINK_FABRIC_MANAGER,
        Check.NVLINK_NVLSM, Check.NVLINK_IMEX, Check.NIC_PRESENT, Check.NIC_STATE,
        Check.NIC_RATE, Check.NIC_CARRIER, Check.NIC_MTU, Check.NIC_IPOIB_MODE,
        Check.NIC_ROUTING, Check.SOFTWARE_DCGM, Check.STORAGE_MOUNT, Check.STORAGE_OPTIONS,
    }  # fmt: skip
    assert not any(JUDGES[c].burn_in for c in HEALTH_CHECKS)
    assert set(RULES) == set(HEALTH_CHECKS)


def _remap_failed(index: int) -> Callable[[NodeCase], None]:
    def change(case: NodeCase) -> None:
        case.profile["gpus"][index]["row_remap"]["failure"] = True

    return change


def _service(name: str) -> Callable[[NodeCase], None]:
    def change(case: NodeCase) -> None:
        case.profile["services"][name] = "failed"

    return change


def _port_down(index: int) -> Callable[[NodeCase], None]:
    def change(case: NodeCase) -> None:
        nic = case.profile["nics"][index]
        nic["state"], nic["physical_state"] = "Down", "Disabled"

    return change


def _netdev_gone(index: int) -> Callable[[NodeCase], None]:
    def change(case: NodeCase) -> None:
        case.profile["nics"].pop(index)

    return change


def _unmounted(case: NodeCase) -> None:
    case.profile["mounts"].remove("/mnt/shared")


def _mtu(index: int, mtu: int) -> Callable[[NodeCase], None]:
    def change(case: NodeCase) -> None:
        links = json.loads(case.node().outputs.text("ip-addr"))
        links[index]["mtu"] = mtu
        case.overrides["ip-addr"] = (json.dumps(links), 0)

    return change


def _connected(case: NodeCase) -> None:
    """The lab plans datagram mode; rail 1 runs connected."""
    case.overrides[ipoib_mode_section(case.host.expected.nics[0])] = ("connected\n", 0)


def _rules_flushed(case: NodeCase) -> None:
    case.overrides["ip-rule"] = ('[{"priority":0,"src":"all","table":"local"}]', 0)


def _remounted_without_flags(case: NodeCase) -> None:
    case.variables["bringup_expected"]["mounts"][0]["options"] = "noatime,nodev"
    case.overrides["mounts"] = ("tmpfs /mnt/shared tmpfs rw,relatime 0 0\n", 0)


def _fault(kind: str, **options: Any) -> Callable[[NodeCase], None]:
    def change(case: NodeCase) -> None:
        case.fault(kind, **options)

    return change


# what breaks the node, which node, the check that finds it, its severity and action
CASES = [
    ("gpu lost", _fault("gpu-off-bus", gpu=3), HGX, Check.GPU_COUNT, CRITICAL, Action.REBOOT),
    ("gpu lost, Xid 79", _fault("gpu-off-bus", gpu=3), HGX, Check.GPU_XID, CRITICAL, Action.REBOOT),
    ("ecc", _fault("ecc-uncorrectable", gpu=2), HGX, Check.GPU_ECC_UNCORRECTED, CRITICAL,
     Action.RESET_GPU),
    ("remap pending", _fault("row-remap-pending", gpu=1), HGX, Check.GPU_ROW_REMAP, CRITICAL,
     Action.RESET_GPU),
    ("remap failed", _remap_failed(5), HGX, Check.GPU_ROW_REMAP, CRITICAL, Action.REPLACE_GPU),
    ("Xid 119", _fault("xid", gpu=5, xid=119), HGX, Check.GPU_XID, CRITICAL, Action.REBOOT),
    ("Xid 120", _fault("xid", gpu=5, xid=120), HGX, Check.GPU_XID, CRITICAL, Action.REBOOT),
    ("Xid 48", _fault("xid", gpu=0, xid=48), HGX, Check.GPU_XID, CRITICAL, Action.RESET_GPU),
    ("Xid 63", _fault("xid", gpu=0, xid=63), HGX, Check.GPU_XID, CRITICAL, Action.RESET_GPU),
    ("Xid 64", _fault("xid", gpu=0, xid=64), HGX, Check.GPU_XID, CRITICAL, Action.RESET_GPU),
    ("Xid 74", _fault("xid", gpu=0, xid=74), HGX, Check.GPU_XID, CRITICAL, Action.RESET_GPU),
    ("Xid 74 on the link", _fault("xid", gpu=0, xid=74), HGX, Check.NVLINK_ERRORS, CRITICAL,
     Action.RESET_GPU),
    ("another critical Xid", _fault("xid", gpu=0, xid=62), HGX, Check.GPU_XID, CRITICAL,
     Action.RESET_GPU),
    ("link down", _fault("nvlink-inactive", gpu=2, link=7), HGX, Check.NVLINK_LINK_STATE,
     CRITICAL, Action.RESET_GPU),
    ("fabric manager", _service("nvidia-fabricmanager"), HGX, Check.NVLINK_FABRIC_MANAGER,
     CRITICAL, Action.RESTART_SERVICE),
    ("imex", _service("nvidia-imex"), TRAY, Check.NVLINK_IMEX, CRITICAL, Action.RESTART_SERVICE),
    ("dcgm", _service("nvidia-dcgm"), HGX, Check.SOFTWARE_DCGM, WARNING, Action.RESTART_SERVICE),
    ("port down", _port_down(0), TRAY, Check.NIC_STATE, CRITICAL, Action.CHECK_CABLE),
    ("no carrier", _port_down(0), TRAY, Check.NIC_CARRIER, CRITICAL, Action.CHECK_CABLE),
    ("rate", _fault("ib-rate", device="mlx5_3"), HGX, Check.NIC_RATE, CRITICAL,
     Action.CHECK_CABLE),
    ("netdev gone", _netdev_gone(0), CPU, Check.NIC_PRESENT, CRITICAL, Action.CHECK_CABLE),
    ("mount", _unmounted, CPU, Check.STORAGE_MOUNT, CRITICAL, Action.REMOUNT),
    ("mtu", _mtu(1, 1500), TRAY, Check.NIC_MTU, CRITICAL, Action.RESTART_SERVICE),
    ("ipoib mode", _connected, HGX, Check.NIC_IPOIB_MODE, CRITICAL, Action.RESTART_SERVICE),
    ("rules flushed", _rules_flushed, CPU, Check.NIC_ROUTING, CRITICAL, Action.RESTART_SERVICE),
    ("mount options", _remounted_without_flags, CPU, Check.STORAGE_OPTIONS, WARNING,
     Action.REMOUNT),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "name", "check", "severity", "action"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_each_rule_on_the_judges_findings(
    make_case: Callable[[str], NodeCase],
    change: Callable[[NodeCase], None],
    name: str,
    check: Check,
    severity: Severity,
    action: Action,
) -> None:
    case = make_case(name)
    change(case)
    node = case.node()
    findings = JUDGES[check](node)
    assert findings, f"{check} found nothing"
    assert {(advise(f).severity, advise(f).action) for f in findings} == {(severity, action)}
    verdict = judge_health(node.expected, node.outputs, "cli")
    judged = {(f.severity, f.action) for f in verdict.findings if f.finding.check == check}
    assert judged == {(severity, action)}
    assert verdict.drain == (severity == CRITICAL)


def test_a_host_imex_running_beside_the_dra_driver_drains_and_says_to_stop_it(
    make_dra_case: Callable[[str], NodeCase],
) -> None:
    running = make_dra_case(TRAY)
    running.profile["services"]["nvidia-imex"] = "running"  # started again by an upgrade, say
    node = running.node()
    verdict = judge_health(node.expected, node.outputs, "cli")
    (judged,) = verdict.findings
    assert (judged.finding.check, judged.severity) == (Check.NVLINK_IMEX, CRITICAL)
    assert judged.action == Action.RESTART_SERVICE  # the daemon step, with what to do instead
    assert "stop, disable and mask the host's nvidia-imex" in advise(judged.finding).note
    assert Check.NVLINK_IMEX.value in verdict.checks
    stopped = make_dra_case(TRAY)
    stopped.profile["services"]["nvidia-imex"] = "stopped"
    node = stopped.node()
    assert judge_health(node.expected, node.outputs, "cli").healthy


def test_a_lost_gpu_says_to_replace_it_if_it_is_lost_again() -> None:
    lost = Finding("gpu:n1/3", Check.GPU_COUNT, "lost (fallen off the bus)", "visible")
    assert "replace" in advise(lost).note


def test_several_xids_ask_for_the_strongest_action() -> None:
    def xid(observed: str) -> Action:
        return advise(Finding("gpu:n1/0", Check.GPU_XID, observed, "none")).action

    assert xid("Xid 48, 63") == Action.RESET_GPU
    assert xid("Xid 48, 79") == Action.REBOOT
    assert xid("Xid 94, 95; fallen off the bus") == Action.REBOOT
    assert xid("unreadable: not a kernel log") == Action.RESET_GPU  # the log, not the GPU
    assert xid_numbers("Xid 13, 31, 43") == {13, 31, 43}


def test_a_tool_that_failed_is_critical() -> None:
    """A check that could not read its tool's output finds the node: nothing says it is fine."""
    finding = Finding("node:n1", Check.NIC_STATE, "exit status 255: ibpanic", "readable ibstat")
    assert advise(finding) == advise(Finding("nic:n1/rail1", Check.NIC_STATE, "Down", "Active"))
    assert advise(finding).severity == CRITICAL


def test_a_check_health_does_not_run_has_no_rule() -> None:
    with pytest.raises(ValueError, match=r"nic\.link_flaps: not a health check"):
        advise(Finding("nic:n1/rail1", Check.NIC_LINK_FLAPS, "9", "<= 4"))


def test_a_dead_dcgm_alone_keeps_the_node_in_work(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    case.profile["services"]["nvidia-dcgm"] = "failed"
    node = case.node()
    verdict = judge_health(node.expected, node.outputs, "interval")
    assert (verdict.healthy, verdict.drain) == (True, False)
    assert (verdict.severity, verdict.action) == (Severity.WARNING, Action.RESTART_SERVICE)


def test_a_healthy_node_runs_the_checks_that_apply(make_case: Callable[[str], NodeCase]) -> None:
    for name, skipped in ((HGX, set()), (CPU, {"gpu", "nvlink"})):
        node = make_case(name).node()
        verdict = judge_health(node.expected, node.outputs, "interval")
        assert (verdict.healthy, verdict.findings, verdict.action) == (True, (), Action.NONE)
        ran = {Check(c).concern.value for c in verdict.checks}
        assert ran.isdisjoint(skipped)
        # the CPU node: no GPU or NVLink check, and no IPoIB on its Ethernet rails
        assert len(verdict.checks) == len(HEALTH_CHECKS) - (10 if skipped else 0)


@pytest.mark.parametrize("check", [Check.NIC_MTU, Check.NIC_IPOIB_MODE, Check.NIC_ROUTING])
def test_a_rail_that_drifted_says_to_apply_its_configuration_again(check: Check) -> None:
    finding = Finding("nic:n1/rail1", check, "no rule from 10.128.0.1 to table 1001", "a rule")
    assert "netplan apply" in advise(finding).note

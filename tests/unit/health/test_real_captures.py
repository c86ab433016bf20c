"""`bringup health` on real captures judges as the suite does, from the sections it collects.

A capture set is a planned node whose outputs are the lab's emulated tools (the real formats,
tests/unit/validation/conftest.py), with the sections a real capture covers replaced by that
capture (../shared/fixtures/real, PROVENANCE.md), and the emulated machine set to match it:
the GPU bus addresses the capture's machine has, the ports it shows down without carrier, the
clock it was taken at. The kernel log goes through the node's own grep, as on a node.

Sets are built only where the captures fit a planned SKU: the real nvidia-smi XML reports are
A100 MIG machines with one GPU element each (the plan has eight), so GPU reports stay
emulated; the single-GPU NVLink captures come from one-GPU VMs.

For each set, the suite's judges of the health checks are run on every collected section, and
`judge_health` on the health sections alone: the findings must be the same.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bringup.health.checks import HEALTH_CHECKS, SECTION_KINDS, judge_health
from bringup.health.verdict import Action, Trigger
from bringup.lab.profile import node_profile
from bringup.plan import Plan, make_plan, node_expectation
from bringup.spec import load_cluster
from bringup.validation.collect import _DRIVER_EVENTS, NodeOutputs, planned_sections
from bringup.validation.judges import JUDGES
from bringup.validation.node import Node
from bringup.validation.report import Finding
from bringup.workspace import REPOSITORY
from tests.unit.validation.conftest import HGX, PLAN, NodeCase, host_vars

REAL = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real"
MIXED = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.mixed.yaml"))
A100 = next(n.name for n in MIXED.nodes if n.sku == "hgx-a100")
H100_X8_REPORT = "nvidia-smi-q/h100-80gb-hbm3_x8_535.161.08_gpud.txt"
"""The real 8-GPU H100 (Dell XE9680, gpud's fleet) whose bus layout the H100 sets use: the
Xid logs of that fleet name GPUs by these addresses."""


def real(relative: str) -> Path:
    """A real capture; fails (not skips) when the shared folder is missing."""
    if not REAL.is_dir():
        pytest.fail(f"real fixtures not found at {REAL.resolve()}")
    return REAL / relative


def bus_ids(report: str) -> tuple[str, ...]:
    """The GPUs' bus ids of a real `nvidia-smi -q`, in its order."""
    text = real(report).read_text(encoding="utf-8")
    return tuple(re.findall(r"^GPU (0000[0-9A-F]{4}:[0-9A-F]{2}:[0-9A-F]{2}\.\d)$", text, re.M))


def kernel_events(relative: str) -> str:
    """What the node's collection keeps of a real kernel log: its grep's output."""
    command = f"grep -aE {_DRIVER_EVENTS} {real(relative)}; true"
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


@dataclass(frozen=True)
class CaptureSet:
    """A planned node with some of its sections taken from real captures."""

    name: str
    plan: Plan
    node: str
    xid_log: str | None = None
    ibstat: tuple[str, int] | None = None
    nvlink: str | None = None
    bus_layout: str | None = None
    """A real `nvidia-smi -q` of the capture's machine: the emulated GPUs take its bus ids."""
    gpu_buses: tuple[str, ...] = ()
    """Bus ids for the first GPUs, where no report of the machine was captured."""
    ports_down: tuple[str, ...] = ()
    """Devices the capture shows down: their netdevs have no carrier either."""
    clock: int | None = None
    """The node's clock (epoch) when the capture was taken, for logs stamped with a zone."""
    drain: bool = False
    action: Action = Action.NONE
    failing: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    """(component without the host part, check) of every finding."""

    def outputs(self, tmp: Path) -> tuple[Node, NodeOutputs]:
        """The node as the suite sees it, with every section collected."""
        variables: dict[str, Any]
        if self.plan is PLAN:
            variables = host_vars(self.node)
        else:
            expected = node_expectation(self.plan, self.plan.node(self.node))
            variables = {"bringup_expected": expected.to_json()}
        profile = node_profile(self.plan, self.plan.node(self.node))
        case = NodeCase(tmp, self.node, dict(profile), variables)
        buses = bus_ids(self.bus_layout) if self.bus_layout else self.gpu_buses
        for gpu, bus in zip(case.profile["gpus"], buses, strict=False):
            gpu["pci_bus_id"] = bus
        for nic in case.profile["nics"]:
            if nic["device"] in self.ports_down:
                nic["state"], nic["physical_state"] = "Down", "Disabled"
        if self.xid_log is not None:
            case.overrides["xid"] = (kernel_events(self.xid_log), 0)
        if self.ibstat is not None:
            path, rc = self.ibstat
            case.overrides["ibstat"] = (real(path).read_text(encoding="utf-8"), rc)
        if self.nvlink is not None:
            case.overrides["nvidia-smi-nvlink"] = (real(self.nvlink).read_text("utf-8"), 0)
        if self.clock is not None:
            case.overrides["clock"] = (f"{case.uptime} 1.0\n{self.clock}\n", 0)
        node = case.node()
        return node, node.outputs


SETS = [
    CaptureSet(
        "h100-xid119-gsp-timeout",
        PLAN,
        HGX,
        xid_log="xid/h100_dell-xe9680_xid119-gsp-timeout_dmesg_gpud.log",
        bus_layout=H100_X8_REPORT,
        drain=True,
        action=Action.REBOOT,
        failing=frozenset({("gpu:/4", "gpu.xid")}),
    ),
    CaptureSet(
        "xid48-63-94-dbe-row-remap",
        PLAN,
        HGX,
        xid_log="xid/gpu-node_xid48-63-94-dbe-row-remap_dmesg-iso_gpud.log",
        bus_layout=H100_X8_REPORT,
        clock=epoch("2024-11-15T12:30:00+00:00"),
        drain=True,
        action=Action.RESET_GPU,
        failing=frozenset({("gpu:/0", "gpu.xid")}),
    ),
    CaptureSet(
        "xid13-43-only-full-dmesg",
        PLAN,
        HGX,
        xid_log="xid/gpu-node_xid13-43_full-dmesg-decode-iso_gpud.log",
        bus_layout=H100_X8_REPORT,
        clock=epoch("2025-01-21T02:30:00+00:00"),
    ),
    CaptureSet(
        "a100-xid63-row-remapper",
        MIXED,
        A100,
        xid_log="xid/a100_xid63-row-remapper_single-line_ml-engineering.log",
        gpu_buses=("00000000:10:1C.0",),  # the address the log names, as the first GPU's
        drain=True,
        action=Action.RESET_GPU,
        failing=frozenset({("gpu:/0", "gpu.xid")}),
    ),
    CaptureSet(
        "a100-nvlink-all-up",
        MIXED,
        A100,
        nvlink="nvidia-smi-nvlink/a100-sxm4-80gb_x8_nvlink-status_gpud.txt",
    ),
    CaptureSet(
        "a100-ibstat-panics",
        MIXED,
        A100,
        ibstat=("infiniband/ibstat/a100-azure-ndv4_mt4124_ibpanic-exit255_gpud.txt", 255),
        drain=True,
        action=Action.CHECK_CABLE,
        failing=frozenset({("node", "nic.present"), ("node", "nic.state"), ("node", "nic.rate")}),
    ),
    CaptureSet(
        "h100-ib-ethernet-ports-down",
        PLAN,
        HGX,
        ibstat=("infiniband/ibstat/h100-node_cx7_some-ports-down_0_gpud.txt", 0),
        ports_down=("mlx5_2", "mlx5_7", "mlx5_8"),
        drain=True,
        action=Action.CHECK_CABLE,
        failing=frozenset(
            (f"nic:/{label}", check)
            for label in ("inband2", "storage1", "inband1")
            for check in ("nic.state", "nic.carrier")
        ),
    ),
    CaptureSet(
        # a RoCE node: its compute ports' link layer is Ethernet where the plan has
        # InfiniBand, which no health check judges; the two rails down are what it finds
        "h100-roce-two-rails-down",
        PLAN,
        HGX,
        ibstat=("infiniband/ibstat/h100-node_cx7_some-ports-down_1_gpud.txt", 0),
        ports_down=("mlx5_5", "mlx5_11"),
        drain=True,
        action=Action.CHECK_CABLE,
        failing=frozenset(
            (f"nic:/{label}", check)
            for label in ("rail4", "rail8")
            for check in ("nic.state", "nic.carrier")
        ),
    ),
    CaptureSet(
        "h100-roce-all-ports-up",
        PLAN,
        HGX,
        ibstat=("infiniband/ibstat/h100-node_cx7-400g-eth_all-active_0_gpud.txt", 0),
    ),
]


def health_sections(outputs: NodeOutputs, node: Node) -> NodeOutputs:
    """Only what the health script collects of these outputs."""
    names = {s.name for s in planned_sections(node.expected) if s.kind in SECTION_KINDS}
    kept: Mapping[str, tuple[str, int]] = {
        name: value for name, value in outputs.sections.items() if name in names
    }
    return NodeOutputs(outputs.host, kept)


def short(finding: Finding, host: str) -> tuple[str, str]:
    return finding.component.replace(host, "", 1).rstrip(":"), finding.check


@pytest.mark.parametrize("capture", SETS, ids=lambda s: s.name)
def test_health_judges_a_real_capture_as_the_suite_does(
    capture: CaptureSet, tmp_path: Path
) -> None:
    suite_node, outputs = capture.outputs(tmp_path)
    suite = [f for check in HEALTH_CHECKS for f in JUDGES[check](suite_node)]

    collected = health_sections(outputs, suite_node)
    assert not any(name.startswith(("perfquery:", "write:", "dpkg")) for name in collected.sections)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    verdict = judge_health(suite_node.expected, collected, Trigger.INTERVAL, observed_at=at)

    assert [f.finding for f in verdict.findings] == suite
    assert {short(f, capture.node) for f in suite} == capture.failing
    assert (verdict.drain, verdict.action) == (capture.drain, capture.action)
    applies = [c for c in HEALTH_CHECKS if JUDGES[c].skip_reason(suite_node) is None]
    assert list(verdict.checks) == applies
    assert set(verdict.evidence) == set(collected.sections)


def test_the_h100_sets_have_the_real_machines_bus_layout() -> None:
    """The H100 Xid logs name GPUs at 19:00 and 9b:00, both of the real machine's eight."""
    buses = bus_ids(H100_X8_REPORT)
    assert len(buses) == 8
    assert {"00000000:19:00.0", "00000000:9B:00.0"} <= set(buses)

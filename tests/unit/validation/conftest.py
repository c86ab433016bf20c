"""Nodes for the judges without a lab: the lab's emulated tools render a node's outputs.

A `NodeCase` holds a lab plan node's profile (healthy as the plan expects it) and its rendered
host_vars. A test changes the profile with the lab's own fault functions, then `node()` runs the
emulated nvidia-smi, ibstat, perfquery and nvidia-imex-ctl against it (the real formats, the
same parsers as on a node) and builds the Node the judges see. The sections no emulated tool
prints (ip, dpkg, mounts, services) are written from the profile the way the tools print them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bringup.lab.emulator.tools import run_tool
from bringup.lab.faults import FAULTS, Options, Target
from bringup.lab.profile import node_profile
from bringup.plan import Plan, make_plan
from bringup.render import render_rack_files
from bringup.spec import load_cluster, parse_cluster
from bringup.validation.collect import (
    NodeOutputs,
    perfquery_section,
    service_section,
    write_section,
)
from bringup.validation.expected import HostExpectation, read_expectation
from bringup.validation.node import Node
from bringup.workspace import REPOSITORY

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))
_LAB_DATA = yaml.safe_load((REPOSITORY / "stacks" / "Pulumi.lab.yaml").read_text())
DRA_PLAN = make_plan(
    parse_cluster(
        _LAB_DATA["config"]["bringup:cluster"]
        | {"scheduler": {"kind": "kubernetes", "imex": "dra-driver"}}
    )
)
"""The lab's nodes in a Kubernetes cluster whose NVL72 trays leave IMEX to NVIDIA's DRA driver."""
HGX, TRAY, CPU = "lab-h1-r01-k01-n1", "lab-h1-r01-k02-t01", "lab-h1-r01-k03-n1"
EPOCH = 1_800_000_000


def host_uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def host_vars(name: str, plan: Plan = PLAN) -> dict[str, Any]:
    node = next(n for n in plan.nodes if n.name == name)
    files = render_rack_files(plan, "lab", node.rack)
    variables: dict[str, Any] = yaml.safe_load(files[f"host_vars/{name}.yml"])
    return variables


@dataclass
class NodeCase:
    """One node's profile and expectations, and what the other sections say."""

    tmp: Path
    name: str
    profile: dict[str, Any]
    variables: dict[str, Any]
    kernel_lines: list[str] = field(default_factory=list)
    overrides: dict[str, tuple[str, int]] = field(default_factory=dict)
    burn_in_dir: Path | None = None
    repaired_at: datetime | None = None
    # the lab stamps fault Xids with the host's uptime; a node read now shares that clock
    uptime: float = field(default_factory=lambda: host_uptime())

    @property
    def host(self) -> HostExpectation:
        return read_expectation(self.variables)

    def fault(self, kind: str, **options: Any) -> str:
        """Apply a lab fault that only changes the profile (no live node needed)."""
        target = Target({"name": self.name}, self.profile, self.kernel_lines)
        fn: Callable[[Target, Options], str] = FAULTS[kind]
        return fn(target, Options(**options))

    def _tool(self, path: Path, name: str, *args: str) -> tuple[str, int]:
        env = {"BRINGUP_LAB_PROFILE": str(path), "BRINGUP_LAB_NOW": "2026-11-25T04:00:00"}
        run = run_tool(name, args, env)
        return run.stdout + run.stderr, run.code

    def node(self) -> Node:
        path = self.tmp / f"{self.name}.profile.json"
        path.write_text(json.dumps(self.profile))
        host = self.host
        expected = host.expected
        sections: dict[str, tuple[str, int]] = {"clock": (f"{self.uptime} 1.0\n{EPOCH}\n", 0)}
        if expected.gpu_count:
            sections["nvidia-smi-xml"] = self._tool(path, "nvidia-smi", "-q", "-x")
            sections["nvidia-smi-nvlink"] = self._tool(path, "nvidia-smi", "nvlink", "-s")
            sections["xid"] = ("".join(f"{line}\n" for line in self.kernel_lines), 0)
        sections["ibstat"] = self._tool(path, "ibstat")
        sections["ip-addr"] = (json.dumps(_ip_addr(self.profile)), 0)
        for nic in expected.nics:
            if nic.link_layer == "infiniband":
                sections[perfquery_section(nic)] = self._tool(
                    path, "perfquery", "-x", "-C", nic.device, "-P", str(nic.port)
                )
        sections["dpkg"] = (
            "".join(f"{p.name}\t{p.version}\thi \n" for p in expected.packages),
            0,
        )
        for service in (*expected.services, *expected.stopped_services):
            # a daemon the profile leaves out runs where the node needs it, else is not there
            default = "running" if service in expected.services else "absent"
            state = self.profile["services"].get(service, default)
            sections[service_section(service)] = ("", 0 if state == "running" else 3)
        if expected.host_imex:
            sections["imex-ctl"] = self._tool(path, "nvidia-imex-ctl", "-N")
        mounts = "".join(f"tmpfs {m} tmpfs rw 0 0\n" for m in self.profile["mounts"])
        sections["mounts"] = ("proc /proc proc rw 0 0\n" + mounts, 0)
        for m in expected.mounts:
            mounted = m.mount in self.profile["mounts"]
            sections[write_section(m.mount)] = ("", 0 if mounted else 1)
        sections.update(self.overrides)
        outputs = NodeOutputs(self.name, sections)
        return Node(expected, outputs, self.burn_in_dir, host.diag_level, self.repaired_at)


def _ip_addr(profile: dict[str, Any]) -> list[dict[str, Any]]:
    links = []
    for nic in profile["nics"]:
        up = nic["state"] == "Active"
        flags = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"] if up else ["BROADCAST", "UP"]
        links.append(
            {
                "ifname": nic["netdev"],
                "flags": flags,
                "operstate": "UP" if up else "DOWN",
                "addr_info": [
                    {"family": "inet", "local": nic["address"], "prefixlen": nic["prefix"]}
                ],
            }
        )
    return links


def case_maker(tmp: Path, plan: Plan) -> Callable[[str], NodeCase]:
    """Healthy nodes of `plan`, by name, to break with faults."""

    def make(name: str) -> NodeCase:
        node = next(n for n in plan.nodes if n.name == name)
        return NodeCase(tmp, name, node_profile(plan, node), host_vars(name, plan))

    return make


@pytest.fixture
def make_case(tmp_path: Path) -> Callable[[str], NodeCase]:
    return case_maker(tmp_path, PLAN)


@pytest.fixture
def make_dra_case(tmp_path: Path) -> Callable[[str], NodeCase]:
    """A node of DRA_PLAN; its profile, the lab's, has the host's IMEX running as the lab does."""
    return case_maker(tmp_path, DRA_PLAN)

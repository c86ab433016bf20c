"""Nodes for the judges without a lab: the lab's emulated tools render a node's outputs.

A `NodeCase` holds a lab plan node's profile (healthy as the plan expects it) and its rendered
host_vars. A test changes the profile with the lab's own fault functions, then `node()` runs the
emulated nvidia-smi, ibstat, perfquery and nvidia-imex-ctl against it (the real formats, the
same parsers as on a node) and builds the Node the judges see. The sections no emulated tool
prints (ip, dpkg, mounts, services, IPoIB modes) are written from the profile the way the tools
print them; what the profile does not hold (MTUs, IPoIB modes, the rails' rules and routes,
mount options) is what the roles set: the plan's.
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
from bringup.plan import NodeExpectation, Plan, make_plan
from bringup.render import render_rack_files
from bringup.spec import load_cluster, parse_cluster
from bringup.validation.collect import (
    NodeOutputs,
    ipoib_mode_section,
    perfquery_section,
    service_section,
    write_section,
)
from bringup.validation.expected import HostExpectation, read_expectation
from bringup.validation.node import Node
from bringup.workspace import REPOSITORY

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))
_LAB_DATA = yaml.safe_load((REPOSITORY / "stacks" / "Pulumi.lab.yaml").read_text())
_CLUSTER = _LAB_DATA["config"]["bringup:cluster"]
DRA_PLAN = make_plan(
    parse_cluster(_CLUSTER | {"scheduler": {"kind": "kubernetes", "imex": "dra-driver"}})
)
"""The lab's nodes in a Kubernetes cluster whose NVL72 trays leave IMEX to NVIDIA's DRA driver."""
TUNED_PLAN = make_plan(
    parse_cluster(
        _CLUSTER
        | {
            "fabrics": [
                f | {"ipoib_mode": "connected"} if f["name"] == "compute" else f
                for f in _CLUSTER["fabrics"]
            ],
            "storage": [s | {"options": "noatime,nodev,vers=4.2"} for s in _CLUSTER["storage"]],
        }
    )
)
"""The lab's nodes with IPoIB in connected mode and the shared mount's options set."""
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
        sections["ip-addr"] = (json.dumps(_ip_addr(self.profile, expected)), 0)
        if any(nic.table is not None for nic in expected.nics):
            sections["ip-rule"] = (json.dumps(_ip_rules(expected)), 0)
            sections["ip-route"] = (json.dumps(_ip_routes(self.profile, expected)), 0)
        netdevs = {nic["netdev"] for nic in self.profile["nics"]}
        for nic in expected.nics:
            if nic.link_layer == "infiniband":
                sections[perfquery_section(nic)] = self._tool(
                    path, "perfquery", "-x", "-C", nic.device, "-P", str(nic.port)
                )
            if nic.ipoib_mode is not None:
                sections[ipoib_mode_section(nic)] = (
                    (f"{nic.ipoib_mode}\n", 0)
                    if nic.netdev in netdevs
                    else (f"cat: /sys/class/net/{nic.netdev}/mode: No such file or directory\n", 1)
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
        planned = {m.mount: m.options for m in expected.mounts}
        mounts = "".join(
            f"tmpfs {m} tmpfs {_mount_options(planned.get(m, 'defaults'))} 0 0\n"
            for m in self.profile["mounts"]
        )
        sections["mounts"] = ("proc /proc proc rw 0 0\n" + mounts, 0)
        for m in expected.mounts:
            mounted = m.mount in self.profile["mounts"]
            sections[write_section(m.mount)] = ("", 0 if mounted else 1)
        sections.update(self.overrides)
        outputs = NodeOutputs(self.name, sections)
        return Node(expected, outputs, self.burn_in_dir, host.diag_level, self.repaired_at)


def _ip_addr(profile: dict[str, Any], expected: NodeExpectation) -> list[dict[str, Any]]:
    mtus = {nic.netdev: nic.mtu for nic in expected.nics}
    links = []
    for nic in profile["nics"]:
        up = nic["state"] == "Active"
        flags = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"] if up else ["BROADCAST", "UP"]
        links.append(
            {
                "ifname": nic["netdev"],
                "flags": flags,
                "mtu": mtus.get(nic["netdev"], 1500),
                "operstate": "UP" if up else "DOWN",
                "addr_info": [
                    {"family": "inet", "local": nic["address"], "prefixlen": nic["prefix"]}
                ],
            }
        )
    return links


def _ip_rules(expected: NodeExpectation) -> list[dict[str, Any]]:
    """`ip -j -4 rule`: the kernel's three rules and one per rail with a table (a rule outlives
    its netdev)."""
    rails = [
        {"priority": nic.table, "src": nic.address, "table": str(nic.table)}
        for nic in expected.nics
        if nic.table is not None
    ]
    return [
        {"priority": 0, "src": "all", "table": "local"},
        *sorted(rails, key=lambda rule: rule["priority"]),
        {"priority": 32766, "src": "all", "table": "main"},
        {"priority": 32767, "src": "all", "table": "default"},
    ]


def _ip_routes(profile: dict[str, Any], expected: NodeExpectation) -> list[dict[str, Any]]:
    """`ip -j -4 route show table all` for the netdevs the profile has: each subnet in the main
    table, each rail's table as planned, each address in the local table."""
    planned = {nic.netdev: nic for nic in expected.nics}
    main, rails, local = [], [], []
    for present in profile["nics"]:
        nic = planned[present["netdev"]]
        subnet = {"dst": str(nic.subnet), "dev": nic.netdev, "scope": "link"}
        main.append({**subnet, "protocol": "kernel", "prefsrc": nic.address, "flags": []})
        if nic.table is not None:
            rails.append({**subnet, "table": str(nic.table), "prefsrc": nic.address, "flags": []})
            if nic.gateway is not None:
                default = {"dst": "default", "gateway": nic.gateway, "dev": nic.netdev}
                rails.append({**default, "table": str(nic.table), "flags": []})
        local.append(
            {"type": "local", "dst": nic.address, "dev": nic.netdev, "table": "local",
             "protocol": "kernel", "scope": "host", "prefsrc": nic.address, "flags": []}
        )  # fmt: skip
    return [*main, *rails, *local]


def _mount_options(planned: str) -> str:
    """What the kernel shows of a mount made with `planned`: rw or ro first, then the rest
    (where the kernel would leave out an option it never shows, which no check judges)."""
    options = [o for o in planned.split(",") if o not in ("defaults", "rw", "ro")]
    return ",".join(["ro" if "ro" in planned.split(",") else "rw", *options])


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
def make_tuned_case(tmp_path: Path) -> Callable[[str], NodeCase]:
    """A node of TUNED_PLAN."""
    return case_maker(tmp_path, TUNED_PLAN)


@pytest.fixture
def make_dra_case(tmp_path: Path) -> Callable[[str], NodeCase]:
    """A node of DRA_PLAN; its profile, the lab's, has the host's IMEX running as the lab does."""
    return case_maker(tmp_path, DRA_PLAN)

"""Fault injection: each kind changes a node's profile, its links or its processes.

A registry maps the kind's name to a function that takes the node's profile (and the node, for
the kinds that act on real links or processes) and returns a one-line description. ``heal``
puts back the healthy profile the node booted with, raises every link, puts back the rails'
routes and rules of the node's persisted configuration (a link set down loses them) and
restarts sshd.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeGuard

import yaml

from bringup.lab import hosts
from bringup.lab.emulator.hardware import GpuProfile, NicProfile, Profile
from bringup.lab.emulator.xid import xid_line
from bringup.lab.profile import PROFILE_PATH
from bringup.lab.state import NodeRecord
from bringup.lab.system import LabError, in_node, ip


@dataclass(frozen=True)
class Options:
    """What a fault acts on; each kind reads the fields it needs."""

    gpu: int = 0
    link: int = 0
    device: str | None = None
    xid: int = 79
    count: int = 1
    value: float | None = None
    service: str | None = None
    mount: str | None = None


@dataclass
class Target:
    """The node a fault acts on: its record, and its profile (edited in place)."""

    record: NodeRecord
    profile: Profile
    kernel_lines: list[str]


Fault = Callable[[Target, Options], str]
FAULTS: dict[str, Fault] = {}


def fault(name: str) -> Callable[[Fault], Fault]:
    """Register a fault kind under `name`."""

    def register(fn: Fault) -> Fault:
        FAULTS[name] = fn
        return fn

    return register


def _gpu(t: Target, o: Options) -> GpuProfile:
    gpus = t.profile["gpus"]
    if not 0 <= o.gpu < len(gpus):
        raise LabError(f"--gpu {o.gpu}: {t.record['name']} has GPUs 0..{len(gpus) - 1}")
    return gpus[o.gpu]


def _nic(t: Target, o: Options) -> NicProfile:
    nics = t.profile["nics"]
    device = o.device or next((n["device"] for n in nics if n["role"] == "compute"), None)
    for nic in nics:
        if nic["device"] == device:
            return nic
    known = ", ".join(n["device"] for n in nics)
    raise LabError(f"--device {device}: {t.record['name']} has {known}")


def _uptime() -> float:
    """Seconds since boot now: a node shares the host's kernel, so its kernel log stamps are
    the host's uptime, and a fresh event must read as fresh to a check with a time window."""
    return float(Path("/proc/uptime").read_text().split()[0])


def _xid(t: Target, gpu: GpuProfile, xid: int) -> None:
    bus = gpu["pci_bus_id"]
    t.profile["xid_events"].append({"gpu": gpu["index"], "xid": xid, "pci_bus_id": bus})
    stamp = _uptime()
    line = xid_line(
        {"xid": xid, "pci_bus_id": bus, "uptime": stamp, "pid": 0, "name": "bringup-lab"}
    )
    t.kernel_lines.append(line)


@fault("gpu-off-bus")
def gpu_off_bus(t: Target, o: Options) -> str:
    """GPU fallen off the bus: absent from the driver, Xid 79 in the kernel log."""
    gpu = _gpu(t, o)
    gpu["present"] = False
    _xid(t, gpu, 79)
    return f"gpu {o.gpu} fallen off the bus (Xid 79)"


@fault("ecc-uncorrectable")
def ecc_uncorrectable(t: Target, o: Options) -> str:
    """Uncorrectable (double-bit) ECC errors on a GPU."""
    ecc = _gpu(t, o)["ecc"]
    ecc["volatile_uncorrected"] += o.count
    ecc["aggregate_uncorrected"] += o.count
    _xid(t, _gpu(t, o), 48)
    return f"gpu {o.gpu}: {o.count} uncorrectable ECC error(s)"


@fault("row-remap-pending")
def row_remap_pending(t: Target, o: Options) -> str:
    """A row remap waiting for a GPU reset."""
    remap = _gpu(t, o)["row_remap"]
    remap["pending"] = True
    remap["uncorrectable"] += 1
    return f"gpu {o.gpu}: row remap pending"


@fault("nvlink-inactive")
def nvlink_inactive(t: Target, o: Options) -> str:
    """One NVLink of a GPU down."""
    links = _gpu(t, o)["nvlinks"]
    if not 0 <= o.link < len(links):
        raise LabError(f"--link {o.link}: gpu {o.gpu} has links 0..{len(links) - 1}")
    links[o.link]["active"] = False
    return f"gpu {o.gpu} nvlink {o.link} inactive"


@fault("xid")
def xid(t: Target, o: Options) -> str:
    """An Xid event (by number) in the kernel log."""
    _xid(t, _gpu(t, o), o.xid)
    return f"gpu {o.gpu}: Xid {o.xid}"


@fault("daemon-dead")
def daemon_dead(t: Target, o: Options) -> str:
    """The fabric manager or IMEX daemon dead, and failing to start again."""
    service = o.service or next(iter(t.profile["services"]), None)
    if service not in t.profile["services"]:
        raise LabError(
            f"--service {service}: {t.record['name']} runs {sorted(t.profile['services'])}"
        )
    t.profile["services"][service] = "failed"
    in_node(
        t.record["anchor"],
        ["sh", "-c", f"[ -x /etc/init.d/{service} ] && /etc/init.d/{service} stop"],
        check=False,
    )
    return f"{service} dead"


@fault("ib-port-down")
def ib_port_down(t: Target, o: Options) -> str:
    """A NIC port down (disabled at the HCA): the link really goes down in the node."""
    nic = _nic(t, o)
    nic["state"], nic["physical_state"] = "Down", "Disabled"
    ip("-n", t.record["netns"], "link", "set", nic["netdev"], "down")
    return f"{nic['device']} port down"


@fault("ib-rate")
def ib_rate(t: Target, o: Options) -> str:
    """A port that trained at a lower rate than planned."""
    nic = _nic(t, o)
    nic["rate_gbps"] = int(o.value) if o.value else nic["rate_gbps"] // 2
    return f"{nic['device']} at {nic['rate_gbps']} Gb/s"


@fault("symbol-errors")
def symbol_errors(t: Target, o: Options) -> str:
    """Symbol errors climbing on a port."""
    nic = _nic(t, o)
    nic["counters"]["symbol_errors"] += o.count
    return f"{nic['device']} +{o.count} symbol errors"


@fault("cable-cut")
def cable_cut(t: Target, o: Options) -> str:
    """The cable of a port cut: the far (switch) end of the veth goes down, carrier is lost."""
    nic = _nic(t, o)
    host_end = next(n["host_end"] for n in t.record["nics"] if n["netdev"] == nic["netdev"])
    ip("link", "set", host_end, "down")
    nic["state"], nic["physical_state"] = "Down", "Polling"
    return f"cable of {nic['device']} cut ({host_end})"


Figure = Literal["nccl_busbw_gbs", "nvbandwidth_d2d_gbs", "ib_write_bw_gbps"]


def _performance(key: Figure, label: str) -> Fault:
    def low(t: Target, o: Options) -> str:
        perf = t.profile["performance"]
        perf[key] = o.value if o.value is not None else round(perf[key] * 0.5, 1)
        return f"{label} at {perf[key]}"

    low.__doc__ = f"{label} below its floor."
    return low


FAULTS["low-nccl"] = _performance("nccl_busbw_gbs", "NCCL bus bandwidth GB/s")
FAULTS["low-nvbandwidth"] = _performance("nvbandwidth_d2d_gbs", "nvbandwidth GPU-GPU GB/s")
FAULTS["low-ib-write-bw"] = _performance("ib_write_bw_gbps", "ib_write_bw Gb/s")


@fault("mount-missing")
def mount_missing(t: Target, o: Options) -> str:
    """A planned storage mount gone from the node."""
    mounts = t.profile["mounts"]
    target = o.mount or (mounts[0] if mounts else "")
    if target not in mounts:
        raise LabError(f"--mount {target}: {t.record['name']} mounts {mounts}")
    mounts.remove(target)
    in_node(t.record["anchor"], ["umount", "-l", target], check=False)
    return f"mount {target} missing"


@fault("unreachable")
def unreachable(t: Target, o: Options) -> str:
    """The node unreachable: its sshd stopped."""
    hosts.stop_sshd(t.record["anchor"], t.record["netns"])
    return "sshd stopped"


def read_profile(record: NodeRecord) -> Profile:
    """The node's current profile, read inside the node."""
    text = in_node(record["anchor"], ["cat", f"/{PROFILE_PATH}"])
    return _profile(text, f"{record['name']}:/{PROFILE_PATH}")


def _profile(text: str, source: str) -> Profile:
    """A profile the lab wrote (bringup.lab.profile.node_profile), as JSON."""
    data: object = json.loads(text)
    if not _is_profile(data):
        raise LabError(f"{source}: expected a hardware profile (a JSON object), got {text[:80]!r}")
    return data


def _is_profile(data: object) -> TypeGuard[Profile]:
    return isinstance(data, dict) and "gpus" in data and "nics" in data


def write_profile(record: NodeRecord, profile: Profile) -> None:
    """Replace the node's profile atomically, inside the node."""
    text = json.dumps(profile, indent=1, sort_keys=True) + "\n"
    path = f"/{PROFILE_PATH}"
    in_node(
        record["anchor"],
        ["sh", "-c", f'cat > "{path}.tmp" && mv "{path}.tmp" "{path}"'],
        input_text=text,
    )


def append_kernel_log(record: NodeRecord, lines: list[str]) -> None:
    """Append lines to the node's /var/log/kern.log."""
    if lines:
        in_node(
            record["anchor"],
            ["sh", "-c", "cat >> /var/log/kern.log"],
            input_text="\n".join(lines) + "\n",
        )


def inject(record: NodeRecord, kind: str, options: Options) -> str:
    """Apply fault `kind` to a running node; returns its description."""
    if kind not in FAULTS:
        raise LabError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULTS))}")
    target = Target(record, read_profile(record), [])
    description = FAULTS[kind](target, options)
    target.profile["faults"].append({"kind": kind, "description": description})
    write_profile(record, target.profile)
    append_kernel_log(record, target.kernel_lines)
    return description


def heal(record: NodeRecord, healthy: Path) -> None:
    """Undo every fault of a node: healthy profile, links up, clean kernel log, sshd running."""
    profile = _profile(healthy.read_text(), str(healthy))
    write_profile(record, profile)
    in_node(record["anchor"], ["sh", "-c", ": > /var/log/kern.log"])
    for nic in record["nics"]:
        ip("link", "set", nic["host_end"], "up")
        ip("-n", record["netns"], "link", "set", nic["netdev"], "up")
    restore_rail_routing(record)
    if not hosts.sshd_running(record["anchor"]):
        hosts.start_sshd(record["anchor"], record["name"])
    for service in profile["services"]:  # installed daemons come back (a dead one included)
        script = f"/etc/init.d/{service}"
        in_node(
            record["anchor"],
            ["sh", "-c", f"[ ! -x {script} ] || {script} status || {script} start"],
            check=False,
        )


NETPLAN_RAILS = "/etc/netplan/60-bringup-rails.yaml"
"""The rails' persisted configuration, as the doca_ofed role writes it."""


def restore_rail_routing(record: NodeRecord) -> list[str]:
    """Put back the rails' routes and rules of the node's persisted configuration, as its
    network manager does when a link comes up again: a link set down loses the routes of its
    rail's table, and the lab's nodes run no network manager. Returns the commands run; none
    on a node the role has not converged."""
    text = in_node(record["anchor"], ["cat", NETPLAN_RAILS], check=False)
    data = yaml.safe_load(text) if text.strip() else None
    ethernets = data.get("network", {}).get("ethernets", {}) if isinstance(data, dict) else {}
    netns = record["netns"]
    rules = json.loads(ip("-n", netns, "-j", "-4", "rule", "show") or "[]")
    present = {(r.get("src"), r.get("table"), r.get("priority")) for r in rules}
    commands: list[list[str]] = []
    for netdev, entry in ethernets.items():
        for route in entry.get("routes", []):
            argv = ["route", "replace", str(route["to"])]
            argv += ["via", str(route["via"])] if "via" in route else []
            argv += ["dev", netdev]
            argv += ["src", str(route["from"])] if "from" in route else []
            argv += ["scope", str(route["scope"])] if "scope" in route else []
            commands.append([*argv, "table", str(route["table"])])
        for policy in entry.get("routing-policy", []):
            key = (str(policy["from"]), str(policy["table"]), int(policy["priority"]))
            if key not in present:
                commands.append(
                    ["rule", "add", "from", key[0], "lookup", key[1], "priority", str(key[2])]
                )
    for argv in commands:
        ip("-n", netns, *argv)
    return [" ".join(argv) for argv in commands]

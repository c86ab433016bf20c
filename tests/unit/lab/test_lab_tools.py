"""Emulated tools on lab nodes (marked `root`): installed from the lab's apt repository,
read by our parsers, changed by each fault kind and restored by heal."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bringup.catalog import Role
from bringup.lab.faults import FAULTS, Options
from bringup.lab.lab import Lab
from bringup.parsers.infiniband import parse_ibstat
from bringup.parsers.nvidia_smi import parse_query
from bringup.parsers.xid import parse_xid_log
from bringup.plan import make_plan, node_expectation
from bringup.spec import load_cluster
from bringup.workspace import Workspace

from .conftest import ssh as lab_ssh

pytestmark = pytest.mark.root

STACKS = Path(__file__).resolve().parents[3] / "stacks"
PLAN = make_plan(load_cluster(STACKS / "Pulumi.lab.yaml"))
HGX = PLAN.nodes[0]  # hgx-h100
EXPECTED = node_expectation(PLAN, HGX)
ADDRESS = str(EXPECTED.management_address)
DRIVER = EXPECTED.software.driver if EXPECTED.software else None
PINNED = [f"{p.name}={p.version}" for p in EXPECTED.packages]
APT_LAB_ONLY = (
    "-o Dir::Etc::SourceList=/etc/apt/sources.list.d/bringup-lab.list -o Dir::Etc::SourceParts=-"
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Workspace(tmp_path_factory.mktemp("project")), "lab")
    lab.down()
    lab.up(PLAN, 1)
    packages = " ".join(PINNED)
    install = (
        f"export DEBIAN_FRONTEND=noninteractive; apt-get {APT_LAB_ONLY} update -qq && "
        f"apt-get {APT_LAB_ONLY} install -y -qq --no-install-recommends {packages} "
        "nccl-tests nvbandwidth >/dev/null"
    )
    _ssh(lab, install)
    _ssh(lab, "/etc/init.d/nvidia-fabricmanager start")
    yield lab
    lab.down()


def _ssh(lab: Lab, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return lab_ssh(lab.known_hosts, lab.key, ADDRESS, command, check)


def test_packages_install_under_their_pinned_names_and_versions(lab: Lab) -> None:
    out = _ssh(lab, "dpkg-query -W -f='${Package}=${Version}\\n'").stdout.splitlines()
    assert PINNED
    for package in PINNED:
        assert package in out


def test_nvidia_smi_reports_the_planned_gpus(lab: Lab) -> None:
    out = _ssh(lab, "nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits")
    rows = [line.split(", ") for line in out.stdout.splitlines()]
    gpu = EXPECTED.gpu
    assert gpu is not None
    assert [r[0] for r in rows] == [str(i) for i in range(gpu.count)]
    assert {r[1] for r in rows} == {gpu.model}
    assert {int(r[2]) for r in rows} == {gpu.memory_mib}


def test_nvidia_smi_q_parses_and_names_each_gpu_by_serial(lab: Lab) -> None:
    report = parse_query(_ssh(lab, "nvidia-smi -q").stdout)
    profile = json.loads(_ssh(lab, "cat /var/lib/bringup-lab/profile.json").stdout)
    assert [g.serial for g in report.gpus] == [g["serial"] for g in profile["gpus"]]
    assert [g.uuid for g in report.gpus] == [g["uuid"] for g in profile["gpus"]]
    assert report.driver_version == DRIVER


def test_ibstat_parses_and_shows_every_planned_rail_active(lab: Lab) -> None:
    report = parse_ibstat(_ssh(lab, "ibstat").stdout)
    compute = {n.device: n.rate_gbps for n in EXPECTED.nics if n.role == Role.COMPUTE}
    ports = {ca.name: ca.ports[0] for ca in report.cas}
    for device, rate in compute.items():
        assert ports[device].state == "Active"
        assert ports[device].rate == rate


def test_xid_fault_line_parses_as_the_driver_would_print_it(lab: Lab) -> None:
    lab.fault(HGX.name, "gpu-off-bus", Options(gpu=6))
    events = parse_xid_log(_ssh(lab, "cat /var/log/kern.log").stdout)
    lab.heal(HGX.name)
    gpu = json.loads(_ssh(lab, "cat /var/lib/bringup-lab/profile.json").stdout)["gpus"][6]
    assert [(e.xid, e.pci_address) for e in events] == [(79, gpu["pci_bus_id"][4:-2].lower())]


def test_daemon_runs_through_its_init_script(lab: Lab) -> None:
    assert _ssh(lab, "/etc/init.d/nvidia-fabricmanager status", check=False).returncode == 0


Check = Callable[[subprocess.CompletedProcess[str]], bool]

# fault kind -> (options, command showing it, true of the faulty output, true of the healthy one)
CASES: dict[str, tuple[Options, str, Check, Check]] = {
    "gpu-off-bus": (Options(gpu=3), "nvidia-smi -L",
                    lambda r: r.returncode != 0, lambda r: r.returncode == 0),
    "ecc-uncorrectable": (
        Options(gpu=1, count=2),
        "nvidia-smi -i 1 --query-gpu=ecc.errors.uncorrected.volatile.total --format=csv,noheader",
        lambda r: r.stdout.strip() == "2", lambda r: r.stdout.strip() == "0"),
    "row-remap-pending": (
        Options(gpu=2), "nvidia-smi -i 2 --query-gpu=remapped_rows.pending --format=csv,noheader",
        lambda r: r.stdout.strip().lower() in {"yes", "1"},
        lambda r: r.stdout.strip().lower() in {"no", "0"}),
    "nvlink-inactive": (Options(gpu=0, link=5), "nvidia-smi nvlink -s -i 0",
                        lambda r: "inactive" in r.stdout, lambda r: "inactive" not in r.stdout),
    "xid": (Options(gpu=4, xid=63), "cat /var/log/kern.log",
            lambda r: "NVRM: Xid (PCI:" in r.stdout and "): 63," in r.stdout,
            lambda r: "NVRM: Xid" not in r.stdout),
    "daemon-dead": (Options(service="nvidia-fabricmanager"),
                    "/etc/init.d/nvidia-fabricmanager status",
                    lambda r: r.returncode != 0, lambda r: r.returncode == 0),
    "ib-port-down": (Options(device="mlx5_0"), "ibstat mlx5_0",
                     lambda r: "State: Down" in r.stdout, lambda r: "State: Active" in r.stdout),
    "ib-rate": (Options(device="mlx5_3", value=200), "ibstat mlx5_3",
                lambda r: "Rate: 200" in r.stdout, lambda r: "Rate: 400" in r.stdout),
    "symbol-errors": (Options(device="mlx5_4", count=500), "perfquery -C mlx5_4 -P 1",
                      lambda r: "500" in r.stdout, lambda r: "500" not in r.stdout),
    "cable-cut": (Options(device="mlx5_5"), "ibstat mlx5_5; cat /sys/class/net/ibp94s0/carrier",
                  lambda r: "State: Down" in r.stdout and r.stdout.strip().endswith("0"),
                  lambda r: "State: Active" in r.stdout and r.stdout.strip().endswith("1")),
    "low-nccl": (Options(value=100.0), "all_reduce_perf -b 8 -e 8G -f 2 -g 8",
                 lambda r: "Avg bus bandwidth" in r.stdout and _avg_busbw(r.stdout) < 150,
                 lambda r: _avg_busbw(r.stdout) > 150),
    "low-nvbandwidth": (Options(value=100.0), "nvbandwidth -t device_to_device_memcpy_read_ce",
                        lambda r: _nvbandwidth_sum(r.stdout) < 8 * 7 * 110,
                        lambda r: _nvbandwidth_sum(r.stdout) > 8 * 7 * 300),
    "low-ib-write-bw": (Options(device="mlx5_0", value=150.0), "ib_write_bw -d mlx5_0",
                        lambda r: _ib_write_gbps(r.stdout) < 160,
                        lambda r: _ib_write_gbps(r.stdout) > 380),
    "mount-missing": (Options(mount="/mnt/shared"), "findmnt /mnt/shared",
                      lambda r: r.returncode != 0, lambda r: r.returncode == 0),
}  # fmt: skip


def _nvbandwidth_sum(text: str) -> float:
    """The SUM line of an nvbandwidth testcase, GB/s."""
    for line in text.splitlines():
        if line.startswith("SUM "):
            return float(line.split()[-1])
    return 0.0


def _ib_write_gbps(text: str) -> float:
    """ib_write_bw's average bandwidth in Gb/s (perftest prints MB/s, MB = 2^20 bytes)."""
    lines = [line.split() for line in text.splitlines()]
    rows = [row for row in lines if len(row) == 5 and row[0].isdigit()]
    return float(rows[-1][3]) * 8 * 1.048576 / 1000 if rows else 0.0


def _avg_busbw(text: str) -> float:
    for line in text.splitlines():
        if "Avg bus bandwidth" in line:
            return float(line.split(":")[1].split()[0])
    return 0.0


def test_every_fault_kind_has_a_case_here_or_in_the_host_tests() -> None:
    elsewhere = {"unreachable"}  # tests/unit/lab/test_lab_hosts.py
    assert set(FAULTS) == set(CASES) | elsewhere


@pytest.mark.parametrize("kind", sorted(CASES))
def test_fault_changes_what_the_tool_reports_and_heal_restores_it(lab: Lab, kind: str) -> None:
    options, command, faulty, healthy = CASES[kind]
    if kind == "mount-missing":  # provisioning mounts storage; stand in for it here
        _ssh(lab, "mkdir -p /mnt/shared && mount -t tmpfs shared /mnt/shared")
    before = _ssh(lab, command, check=False)
    assert healthy(before), before
    lab.fault(HGX.name, kind, options)
    during = _ssh(lab, command, check=False)
    assert faulty(during), during
    lab.heal(HGX.name)
    if kind == "mount-missing":
        _ssh(lab, "mount -t tmpfs shared /mnt/shared")  # heal cannot remount what provisioning made
    after = _ssh(lab, command, check=False)
    assert healthy(after), after

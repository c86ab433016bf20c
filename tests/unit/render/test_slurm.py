"""Slurm's files of a plan: the lab's lines exactly, every node once, GPUs as the catalog says.

Hostlists are read back as Slurm reads them (src/common/hostlist.c: a range is padded to the
width of its first number, and a list expands in the order written); test_slurmctld.py has a
real slurmctld read the files of every stack.
"""

from __future__ import annotations

import dataclasses
import doctest
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bringup.render.slurm
from bringup.catalog import load_catalog
from bringup.plan import Plan
from bringup.plan.expectation import management_address
from bringup.plan.scheduler import hostlist, slurm_topology
from bringup.render.hosts import inventory_groups
from bringup.render.slurm import (
    MEMORY_RESERVE,
    SiteError,
    SlurmSite,
    real_memory_mib,
    render_slurm_files,
)

from .conftest import ROOT, STACKS, lab_data, plan_of, stack_plan

STACK_NAMES = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS.glob("Pulumi.*.yaml")
)
PLANS = {name: stack_plan(name) for name in STACK_NAMES}
_ENTRY = re.compile(r"([^,\[]*)(?:\[([^\]]*)\])?([^,\[]*)")


def expand(text: str) -> list[str]:
    """A hostlist as Slurm expands it: ``a[1-2,05-06]b,c`` is a1b, a2b, a05b, a06b, c."""
    names: list[str] = []
    position = 0
    while position < len(text):
        match = _ENTRY.match(text, position)
        assert match, f"cannot read {text[position:]!r}"
        prefix, ranges, suffix = match.groups()
        if ranges is None:
            names.append(prefix + suffix)
        else:
            for part in ranges.split(","):
                first, _, last = part.partition("-")
                for number in range(int(first), int(last or first) + 1):
                    names.append(f"{prefix}{number:0{len(first)}d}{suffix}")
        position = match.end() + 1  # the comma
    return names


def settings(line: str) -> dict[str, str]:
    """``Key=value`` pairs of a configuration line."""
    return dict(part.split("=", 1) for part in line.split())


def lines_of(text: str, keyword: str) -> list[dict[str, str]]:
    """The settings of every line of `text` that starts with ``keyword=``."""
    return [settings(line) for line in text.splitlines() if line.startswith(f"{keyword}=")]


def files_of(plan: Plan, **changes: Any) -> dict[str, str]:
    return render_slurm_files(plan, dataclasses.replace(SlurmSite.of(plan.cluster), **changes))


@pytest.fixture(params=STACK_NAMES)
def plan(request: pytest.FixtureRequest) -> Plan:
    return PLANS[request.param]


# --- hostlists ------------------------------------------------------------------------------


def test_expand_reads_slurms_hostlists() -> None:
    assert expand("a-n[1-3,5],b-t[08-10],c") == [
        "a-n1", "a-n2", "a-n3", "a-n5", "b-t08", "b-t09", "b-t10", "c",
    ]  # fmt: skip
    assert expand("n[9-11]") == ["n9", "n10", "n11"]
    assert expand("10.64.0.[1-2],10.64.1.0") == ["10.64.0.1", "10.64.0.2", "10.64.1.0"]


@pytest.mark.parametrize(
    ("names", "text"),
    [
        (["n1", "n2", "n3", "n5", "n6"], "n[1-3,5-6]"),
        (["t01", "t02", "t10"], "t[01-02,10]"),
        (["n9", "n10", "n11"], "n[9-11]"),  # no padding: one range across the width
        (["n09", "n10", "n100"], "n[09-10,100]"),  # padded: 100 is not n0100's neighbour
        (["b1", "a1", "b2"], "b1,a1,b2"),  # order kept: Slurm pairs NodeAddr by position
        (["x", "n1", "y", "n2"], "x,n1,y,n2"),
        (["10.64.0.254", "10.64.0.255", "10.64.1.0"], "10.64.0.[254-255],10.64.1.0"),
    ],
)
def test_hostlist_is_slurms_text_of_the_names_in_order(names: list[str], text: str) -> None:
    assert hostlist(names) == text
    assert expand(text) == names


_NAMES = st.lists(
    st.builds(
        lambda prefix, number, width: f"{prefix}{number:0{width}d}" if width else prefix,
        st.sampled_from(["a-n", "b-t", "10.64.0.", "x"]),
        st.integers(min_value=0, max_value=120),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=40,
)


@given(_NAMES)
def test_hostlist_round_trips_any_names_in_order(names: list[str]) -> None:
    assert expand(hostlist(names)) == names


# --- the lab, line by line ------------------------------------------------------------------


def test_lab_nodes_partitions_and_gpus_line_by_line() -> None:
    files = files_of(PLANS["lab"])
    conf = files["slurm.conf"].splitlines()
    assert [line for line in conf if line.startswith(("NodeName=", "NodeSet=", "Partition"))] == [
        "NodeName=lab-h1-r01-k01-n[1-2] NodeAddr=10.64.0.[1-2] Sockets=2 CoresPerSocket=56 "
        "ThreadsPerCore=2 RealMemory=1992294 Gres=gpu:8 Feature=hgx-h100",
        "NodeName=lab-h1-r01-k02-t[01-18] NodeAddr=10.64.0.[3-20] Sockets=2 CoresPerSocket=72 "
        "ThreadsPerCore=1 RealMemory=933888 Gres=gpu:4 Feature=gb200-nvl72",
        "NodeName=lab-h1-r01-k03-n1 NodeAddr=10.64.0.21 Sockets=2 CoresPerSocket=32 "
        "ThreadsPerCore=2 RealMemory=498073 Feature=cpu",
        "NodeSet=sku-cpu Feature=cpu",
        "NodeSet=sku-gb200-nvl72 Feature=gb200-nvl72",
        "NodeSet=sku-hgx-h100 Feature=hgx-h100",
        "PartitionName=gb200-nvl72 Nodes=sku-gb200-nvl72 MaxTime=7-00:00:00 DefCpuPerGPU=36 "
        "DefMemPerGPU=233472 State=UP",
        "PartitionName=hgx-h100 Nodes=sku-hgx-h100 MaxTime=7-00:00:00 DefCpuPerGPU=28 "
        "DefMemPerGPU=249036 State=UP",
        "PartitionName=gpu Nodes=sku-gb200-nvl72,sku-hgx-h100 Default=YES MaxTime=7-00:00:00 "
        "DefCpuPerGPU=28 DefMemPerGPU=233472 State=UP",
        "PartitionName=cpu Nodes=sku-cpu MaxTime=7-00:00:00 DefMemPerCPU=3891 State=UP",
    ]
    assert files["gres.conf"].splitlines()[2:] == [
        "NodeName=lab-h1-r01-k01-n[1-2] Name=gpu File=/dev/nvidia[0-7]",
        "NodeName=lab-h1-r01-k02-t[01-18] Name=gpu File=/dev/nvidia[0-3]",
    ]


def test_lab_cluster_settings() -> None:
    conf = settings_of(files_of(PLANS["lab"])["slurm.conf"])
    assert conf["ClusterName"] == "lab"
    assert conf["SlurmctldHost"] == "lab-slurmctld"
    assert conf["AuthType"] == "auth/munge"
    assert conf["SelectType"] == "select/cons_tres"
    assert conf["SelectTypeParameters"] == "CR_Core_Memory"
    assert conf["GresTypes"] == "gpu"
    assert conf["TopologyPlugin"] == "topology/tree"
    assert conf["ReturnToService"] == "0"
    assert (conf["ProctrackType"], conf["TaskPlugin"]) == (
        "proctrack/cgroup",
        "task/cgroup,task/affinity",
    )
    assert "PluginDir" not in conf  # the compiled-in default
    assert conf["AuthInfo"] == "cred_expire=30"  # munged's default socket; quick requeue
    assert conf["HealthCheckProgram"] == "/usr/local/sbin/bringup-health"
    assert conf["HealthCheckInterval"] == "10"  # the lab stack's health.interval_s
    assert conf["HealthCheckNodeState"] == "ANY,CYCLE"
    assert conf["Epilog"] == "/usr/local/sbin/bringup-epilog"
    assert conf["RequeueExit"] == "85"
    assert "SlurmdParameters" not in conf


def settings_of(text: str) -> dict[str, str]:
    """The one-setting lines of slurm.conf, by key (node and partition lines left out)."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and " " not in line:
            key, value = line.split("=", 1)
            assert key not in found, f"{key} set twice"
            found[key] = value
    return found


# --- every stack ----------------------------------------------------------------------------


def test_every_node_is_defined_once_at_its_management_address(plan: Plan) -> None:
    defined: dict[str, str] = {}
    for line in lines_of(files_of(plan)["slurm.conf"], "NodeName"):
        names = expand(line["NodeName"])
        addresses = expand(line["NodeAddr"]) if "NodeAddr" in line else names
        assert len(addresses) == len(names), f"{line['NodeName']}: NodeAddr count differs"
        for name, address in zip(names, addresses, strict=True):
            assert name not in defined, f"{name} defined twice"
            defined[name] = address
    assert defined == {n.name: management_address(plan, n) or n.name for n in plan.nodes}


def test_every_node_is_in_the_topology_once(plan: Plan) -> None:
    text = files_of(plan)["topology.conf"]
    placed = [
        n for line in text.splitlines() if "Nodes=" in line for n in expand(settings(line)["Nodes"])
    ]
    assert sorted(placed) == sorted(n.name for n in plan.nodes)
    assert (
        settings_of(files_of(plan)["slurm.conf"])["TopologyPlugin"] == slurm_topology(plan).plugin
    )


def test_each_node_has_its_skus_hardware_and_gpus(plan: Plan) -> None:
    catalog = load_catalog()
    files = files_of(plan)
    by_node = {
        name: line
        for line in lines_of(files["slurm.conf"], "NodeName")
        for name in expand(line["NodeName"])
    }
    devices = {}
    for line in lines_of(files["gres.conf"], "NodeName"):
        assert line["Name"] == "gpu"
        for name in expand(line["NodeName"]):
            assert name not in devices, f"{name}: two gres.conf lines"
            devices[name] = expand(line["File"])
    for node in plan.nodes:
        sku = catalog.sku(node.sku)
        line = by_node[node.name]
        assert line["Feature"] == node.sku
        cpus = int(line["Sockets"]) * int(line["CoresPerSocket"]) * int(line["ThreadsPerCore"])
        assert cpus == sku.host.cpus
        assert int(line["RealMemory"]) < sku.host.memory_gib * 1024
        if sku.gpus_per_unit:
            assert line["Gres"] == f"gpu:{sku.gpus_per_unit}"
            assert devices[node.name] == [f"/dev/nvidia{i}" for i in range(sku.gpus_per_unit)]
        else:
            assert "Gres" not in line
            assert node.name not in devices


def test_partitions_are_the_inventorys(plan: Plan) -> None:
    text = files_of(plan)["slurm.conf"]
    sets = {s["NodeSet"]: s["Feature"] for s in lines_of(text, "NodeSet")}
    partitions = {p["PartitionName"]: p for p in lines_of(text, "PartitionName")}
    groups = {g for g in inventory_groups(plan) if g.startswith("partition-")}
    assert {f"partition-{p}" for p in partitions} - {"partition-gpu"} == groups
    skus_in = {name: {sets[s] for s in p["Nodes"].split(",")} for name, p in partitions.items()}
    catalog = load_catalog()
    gpu_skus = {n.sku for n in plan.nodes if catalog.sku(n.sku).gpus_per_unit}
    if gpu_skus:
        assert skus_in.pop("gpu") == gpu_skus
        assert [n for n, p in partitions.items() if p.get("Default")] == ["gpu"]
    for name, skus in skus_in.items():
        assert skus == ({name} if name != "cpu" else {n.sku for n in plan.nodes} - gpu_skus)


def test_a_cluster_of_cpu_nodes_defaults_to_cpu() -> None:
    data = lab_data()
    data["racks"] = [data["racks"][2]]
    text = files_of(plan_of(data))["slurm.conf"]
    partitions = lines_of(text, "PartitionName")
    assert [(p["PartitionName"], p.get("Default")) for p in partitions] == [("cpu", "YES")]
    assert "GresTypes" not in settings_of(text)
    assert lines_of(files_of(plan_of(data))["gres.conf"], "NodeName") == []


def test_the_100k_stack_stays_small_and_grouped_by_su() -> None:
    plan = PLANS["gb300-100k"]
    files = files_of(plan)
    nodes = lines_of(files["slurm.conf"], "NodeName")
    assert len(nodes) == len({n.su for n in plan.nodes})  # one line per SU of one SKU
    assert all(len(line["NodeAddr"].split(",")) == 1 for line in nodes)  # an SU: one range
    assert sum(len(text) for text in files.values()) < 200_000


def test_real_memory_keeps_the_reserve_back() -> None:
    sku = load_catalog().sku("hgx-h100")
    assert real_memory_mib(sku) == int(2048 * 1024 * (1 - MEMORY_RESERVE)) == 1_992_294


# --- the site -------------------------------------------------------------------------------


def test_site_of_the_spec_names_the_controller() -> None:
    data = lab_data()
    assert SlurmSite.of(plan_of(data).cluster) == SlurmSite(
        controller="lab-slurmctld", health_interval_s=10
    )
    data["scheduler"] = {"kind": "slurm", "cluster_name": "train"}
    assert SlurmSite.of(plan_of(data).cluster).controller == "train-slurmctld"
    data["scheduler"] = {"kind": "slurm", "controller": "ctl", "controller_address": "10.64.9.9"}
    plan = plan_of(data)
    site = SlurmSite.of(plan.cluster)
    assert (site.controller, site.controller_address) == ("ctl", "10.64.9.9")
    assert settings_of(render_slurm_files(plan, site)["slurm.conf"])["SlurmctldHost"] == (
        "ctl(10.64.9.9)"
    )


def test_a_lab_site_without_cgroups() -> None:
    files = files_of(
        PLANS["lab"],
        cgroup=False,
        config_overrides=True,
        plugin_dir="/usr/lib/slurm:/srv/slurm/lib",
        gpu_device="/run/lab/dev/nvidia",
        auth_socket="/tmp/t/munge.sock",
        future_nodes=True,
    )
    conf = settings_of(files["slurm.conf"])
    assert (conf["ProctrackType"], conf["TaskPlugin"]) == ("proctrack/linuxproc", "task/none")
    assert conf["SlurmdParameters"] == "config_overrides"
    assert conf["PluginDir"] == "/usr/lib/slurm:/srv/slurm/lib"
    assert conf["AuthInfo"] == "socket=/tmp/t/munge.sock,cred_expire=30"
    assert all(n["State"] == "FUTURE" for n in lines_of(files["slurm.conf"], "NodeName"))
    assert "CgroupPlugin=disabled" in files["cgroup.conf"].splitlines()
    assert "File=/run/lab/dev/nvidia[0-3]" in files["gres.conf"]


def test_production_cgroups_constrain_devices() -> None:
    lines = files_of(PLANS["lab"])["cgroup.conf"].splitlines()
    assert {"CgroupPlugin=autodetect", "ConstrainDevices=yes", "ConstrainRAMSpace=yes"} <= set(
        lines
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("controller", "ctl_1", "short name"),
        ("controller", "", "short name"),
        ("controller_address", "10.0.0.256", "IPv4 address"),
        ("controller_address", "ctl", "IPv4 address"),
        ("controller_port", 0, "port"),
        ("controller_port", 65536, "port"),
        ("controller_port", True, "port"),
        ("state_dir", "var/spool", "absolute path"),
        ("log_dir", "/var/log/slurm dir", "absolute path"),
        ("run_dir", "/run/slurm#x", "absolute path"),
        ("spool_dir", "/x\nSlurmUser=root", "absolute path"),
        ("plugin_dir", "/usr/lib/slurm:lib", "absolute path"),
        ("plugin_dir", "", "absolute path"),
        ("gpu_device", "nvidia", "absolute path"),
        ("auth_socket", "/run/munge sock", "absolute path"),
        ("mail_program", "mail", "absolute path"),
        ("slurm_user", "slurm user", "user name"),
    ],
)
def test_a_bad_site_value_is_refused_naming_it(field: str, value: object, expected: str) -> None:
    with pytest.raises(SiteError) as caught:
        SlurmSite(**{"controller": "ctl", field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{field}: got {value!r}; "), message
    assert expected in message
    assert "\n" not in message


def test_rendering_is_deterministic_and_ends_each_file_with_one_line_break(plan: Plan) -> None:
    files = files_of(plan)
    assert files == files_of(plan)
    for name, text in files.items():
        assert text.endswith("\n"), name
        assert not text.endswith("\n\n"), name


def test_module_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples read stacks/ as a user in the project would
    result = doctest.testmod(bringup.render.slurm)
    assert result.attempted > 0
    assert result.failed == 0

"""The input model: every bad declaration is refused with one line per problem, naming its field."""

from __future__ import annotations

import copy
import doctest
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

import bringup.spec
from bringup.catalog import load_catalog
from bringup.plan import PlanError, make_plan
from bringup.spec import (
    Cluster,
    RackGroup,
    Site,
    SpecError,
    load_cluster,
    load_cluster_text,
    parse_cluster,
)

STACKS = Path(__file__).resolve().parents[2] / "stacks"
LAB = yaml.safe_load((STACKS / "Pulumi.lab.yaml").read_text(encoding="utf-8"))["config"][
    "bringup:cluster"
]
DNS = "expected a DNS label"


def _lab(changes: dict[str, Any]) -> dict[str, Any]:
    """The lab stack's data with each dotted path set (an index one past a list's end appends)."""
    data = copy.deepcopy(LAB)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list) and int(last) == len(node):
            node.append(value)
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def _problems(data: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_cluster(data, "test")
    return caught.value.problems


def _line_for(problems: list[str], path: str) -> str:
    """The one problem line about `path` (it must start with the path)."""
    lines = [p for p in problems if p.startswith(f"{path}: ")]
    assert len(lines) == 1, f"expected one line for {path!r} in {problems}"
    return lines[0]


COMPUTE2 = {**LAB["fabrics"][0], "name": "compute2", "cidr": "10.200.0.0/16"}

# id, changes to the lab stack, the path the problem line starts with, fragments of that line
BAD: list[tuple[str, dict[str, Any], str, list[str]]] = [
    ("sku", {"racks.0.sku": "hgx-z1"}, "racks.0.sku", ["'hgx-z1'", "hgx-h100"]),
    ("switch", {"fabrics.0.switch": "qm1"}, "fabrics.0.switch", ["'qm1'", "qm9700"]),
    ("switch-kind-ib", {"fabrics.0.switch": "sn5600"}, "fabrics.0.switch",
     ["sn5600 is an ethernet switch", "fabric kind is infiniband"]),
    ("switch-kind-eth", {"fabrics.1.switch": "qm9700"}, "fabrics.1.switch",
     ["qm9700 is an infiniband switch", "fabric kind is ethernet"]),
    ("speed", {"fabrics.0.speed_gbps": 800}, "fabrics.0.speed_gbps",
     ["qm9700 has no ports at 800 Gb/s", "offers 400, 200"]),
    ("count-0", {"racks.0.count": 0}, "racks.0.count", ["got 0", "greater than or equal to 1"]),
    ("site-17", {"site.name": "a" * 17}, "site.name", [repr("a" * 17), "at most 16"]),
    ("duplicate-fabric", {"fabrics.1.name": "compute"}, "fabrics.1.name",
     ["'compute' is declared twice"]),
    ("cidr-overlap", {"fabrics.1.cidr": "10.128.64.0/18"}, "fabrics.1.cidr",
     ["10.128.64.0/18 of 'storage' overlaps 10.128.0.0/16 of 'compute'"]),
    ("same-position", {"racks.2.rack": 2}, "racks.2",
     ["hall 1 row 1 rack 2 is already taken by racks.1"]),
    ("run-overlaps-next", {"racks.0.count": 2}, "racks.1",
     ["hall 1 row 1 rack 2 is already taken by racks.0"]),
    ("rack-unknown-fabric", {"racks.0.fabrics": ["compute", "nope"]}, "racks.0.fabrics",
     ["unknown fabric 'nope'"]),
    ("two-fabrics-one-role", {"fabrics.4": COMPUTE2, "racks.0.fabrics": ["compute", "compute2"]},
     "racks.0.fabrics", ["'compute2' and 'compute' are both compute fabrics"]),
    ("nic-too-slow", {"fabrics.0.planes": 2}, "racks.0",
     ["needs 2 x 400 Gb/s per port", "hgx-h100 ConnectX-7 ports run at 400 Gb/s"]),
    ("nvl72-units", {"racks.1.units": 16}, "racks.1.units", ["exactly 18 trays", "got 16"]),
    ("domain-trays-5", {"racks.1.nvlink": {"domain_trays": 5}}, "racks.1.nvlink.domain_trays",
     ["5 does not divide the 18 trays"]),
    ("domain-trays-0", {"racks.1.nvlink": {"domain_trays": 0}}, "racks.1.nvlink.domain_trays",
     ["got 0", "greater than 0"]),
    ("domain-trays-hgx", {"racks.0.nvlink": {"domain_trays": 2}}, "racks.0.nvlink",
     ["hgx-h100 has no rack-scale NVLink domain"]),
    ("mount-relative", {"storage.0.mount": "mnt/shared"}, "storage.0.mount",
     ["'mnt/shared'", "absolute path"]),
    ("mount-double-slash", {"storage.0.mount": "/mnt//shared"}, "storage.0.mount",
     ["'/mnt//shared'", "absolute path"]),
    ("storage-fabric", {"storage.0.fabric": "nope"}, "storage.0.fabric",
     ["unknown fabric 'nope'"]),
    ("override-sku", {"overrides": {"zz": {}}}, "overrides.zz", ["unknown SKU 'zz'"]),
    ("override-threshold", {"overrides": {"cpu": {"thresholds": {"bogus": 1}}}},
     "overrides.cpu.thresholds.bogus", ["unknown threshold", "'gpu_count'"]),
    ("oob-planes", {"fabrics.3.planes": 2}, "fabrics.3.planes", ["oob fabric has one plane"]),
    ("ipoib-on-ethernet", {"fabrics.1.ipoib_mode": "connected"}, "fabrics.1.ipoib_mode",
     ["connected is an IPoIB mode", "storage is an ethernet fabric"]),
    ("ipoib-mode-unknown", {"fabrics.0.ipoib_mode": "reliable"}, "fabrics.0.ipoib_mode",
     ["'reliable'", "datagram", "connected"]),
    ("mtu-datagram", {"fabrics.0.mtu": 65520}, "fabrics.0.mtu",
     ["65520 is over the 4092 bytes IPoIB in datagram mode carries"]),
    ("mtu-connected", {"fabrics.0.ipoib_mode": "connected", "fabrics.0.mtu": 65536},
     "fabrics.0.mtu", ["65536 is over the 65520 bytes IPoIB in connected mode carries"]),
    ("mtu-ethernet", {"fabrics.1.mtu": 9500}, "fabrics.1.mtu",
     ["9500 is over the 9216 bytes an Ethernet port carries"]),
    ("mtu-small", {"fabrics.1.mtu": 576}, "fabrics.1.mtu", ["got 576", "1280"]),
    ("extra-root", {"colour": "blue"}, "colour", ["'blue'", "Extra inputs"]),
    ("extra-site", {"site.floor": 3}, "site.floor", ["got 3", "Extra inputs"]),
    ("extra-fabric", {"fabrics.0.vlan": 7}, "fabrics.0.vlan", ["got 7", "Extra inputs"]),
    ("extra-nested", {"racks.1.nvlink": {"domain_trays": 9, "imex": True}},
     "racks.1.nvlink.imex", ["Extra inputs"]),
    ("type-int", {"racks.0.count": "many"}, "racks.0.count",
     ["'many'", "expected an integer, not text"]),
    ("type-fraction", {"fabrics.0.speed_gbps": 400.5}, "fabrics.0.speed_gbps",
     ["400.5", "fractional part"]),
    ("type-list", {"racks": "x"}, "racks", ["'x'", "valid tuple"]),
    ("type-mapping", {"site": "lab"}, "site", ["'lab'", "valid dictionary"]),
    ("type-enum", {"fabrics.0.kind": "token-ring"}, "fabrics.0.kind",
     ["'token-ring'", "'infiniband' or 'ethernet'"]),
    ("type-cidr-host-bits", {"fabrics.0.cidr": "10.128.0.1/16"}, "fabrics.0.cidr",
     ["'10.128.0.1/16'", "IPv4 network"]),
    ("no-racks", {"racks": []}, "racks", ["at least 1"]),
    ("override-hyphenated-sku", {"overrides": {"hgx-z1": {}}},
     "overrides.hgx-z1", ["unknown SKU 'hgx-z1'"]),
    ("override-hyphenated-threshold",
     {"overrides": {"hgx-h100": {"thresholds": {"bogus": 1}}}},
     "overrides.hgx-h100.thresholds.bogus", ["unknown threshold"]),
    ("repository-url-only", {"package_repository": "https://example.com/repo"},
     "package_repository", ["got 'https://example.com/repo'", "one-line apt source"]),
    ("repository-no-suite", {"package_repository": "deb file:/srv/repo"},
     "package_repository", ["one-line apt source"]),
    ("type-cidr-int", {"fabrics.0.cidr": 12}, "fabrics.0.cidr", ["got 12", "CIDR"]),
    ("type-cidr-bool", {"fabrics.0.cidr": True}, "fabrics.0.cidr", ["got True", "CIDR"]),
    # the Slurm controller: a host name and an IPv4 address, on a slurm scheduler only
    ("controller-name", {"scheduler.controller": "Ctl_1"}, "scheduler.controller",
     ["got 'Ctl_1'", DNS]),
    ("controller-address", {"scheduler.controller_address": "10.64.0.256"},
     "scheduler.controller_address", ["got '10.64.0.256'", "IPv4 address"]),
    ("controller-address-network", {"scheduler.controller_address": "10.64.0.0/14"},
     "scheduler.controller_address", ["got '10.64.0.0/14'", "IPv4 address"]),
    ("controller-address-int", {"scheduler.controller_address": 167772161},
     "scheduler.controller_address", ["got 167772161", "IPv4 address"]),
    ("controller-address-bool", {"scheduler.controller_address": True},
     "scheduler.controller_address", ["got True", "IPv4 address"]),
    ("controller-kubernetes", {"scheduler": {"kind": "kubernetes", "controller": "ctl"}},
     "scheduler.controller", ["only a slurm scheduler has a controller"]),
    ("controller-default-too-long", {"scheduler.cluster_name": "c" * 60},
     "scheduler.controller", [f"'{'c' * 60}-slurmctld'", "not a DNS label", "declare one"]),
    # who runs IMEX and labels the cliques, and Kueue: what only a kubernetes scheduler has
    ("imex-dra-driver-slurm", {"scheduler.imex": "dra-driver"}, "scheduler.imex",
     ["'dra-driver' needs a kubernetes scheduler", "got 'slurm'"]),
    ("imex-unknown", {"scheduler": {"kind": "kubernetes", "imex": "gpu-operator"}},
     "scheduler.imex", ["got 'gpu-operator'", "'host' or 'dra-driver'"]),
    ("clique-label-slurm", {"scheduler.clique_label": "bringup"}, "scheduler.clique_label",
     ["'bringup' needs a kubernetes scheduler", "got 'slurm'"]),
    ("clique-label-unknown", {"scheduler": {"kind": "kubernetes", "clique_label": "gfd"}},
     "scheduler.clique_label", ["got 'gfd'", "'bringup' or 'dra-driver'"]),
    ("kueue-slurm", {"scheduler.kueue": True}, "scheduler.kueue",
     ["true needs a kubernetes scheduler", "got 'slurm'"]),
    ("kueue-text", {"scheduler": {"kind": "kubernetes", "kueue": "yes"}}, "scheduler.kueue",
     ["got 'yes'", "valid boolean"]),
    ("kueue-number", {"scheduler": {"kind": "kubernetes", "kueue": 1}}, "scheduler.kueue",
     ["got 1", "valid boolean"]),
    # pydantic reads true as 1 and false as 0: every number field refuses booleans
    ("bool-count", {"racks.0.count": True}, "racks.0.count",
     ["got True", "expected an integer, not a boolean"]),
    ("bool-units", {"racks.0.units": False}, "racks.0.units", ["got False", "not a boolean"]),
    ("bool-optional-int", {"fabrics.0.design_sus": True}, "fabrics.0.design_sus",
     ["got True", "expected an integer, not a boolean"]),
    ("bool-float", {"storage.0.read_gbs": True}, "storage.0.read_gbs",
     ["got True", "expected a number, not a boolean"]),
    ("bool-nested", {"racks.1.nvlink": {"domain_trays": True}}, "racks.1.nvlink.domain_trays",
     ["not a boolean"]),
    ("bool-threshold", {"overrides": {"cpu": {"thresholds": {"gpu_count": False}}}},
     "overrides.cpu.thresholds.gpu_count", ["got False", "expected an integer, not a boolean"]),
    ("bool-threshold-float",
     {"overrides": {"cpu": {"thresholds": {"nccl_allreduce_busbw_gbs": True}}}},
     "overrides.cpu.thresholds.nccl_allreduce_busbw_gbs", ["expected a number, not a boolean"]),
    # a number written as text is as likely a slip as meant: refused, not converted
    ("text-count", {"racks.0.count": "4"}, "racks.0.count",
     ["got '4'", "expected an integer, not text"]),
    ("text-float", {"storage.0.read_gbs": "1.5"}, "storage.0.read_gbs",
     ["got '1.5'", "expected a number, not text"]),
    ("text-threshold", {"overrides": {"cpu": {"thresholds": {"gpu_count": "8"}}}},
     "overrides.cpu.thresholds.gpu_count", ["got '8'", "expected an integer, not text"]),
    ("threshold-fraction", {"overrides": {"cpu": {"thresholds": {"gpu_count": 1.5}}}},
     "overrides.cpu.thresholds.gpu_count", ["got 1.5", "fractional part"]),
    ("threshold-negative", {"overrides": {"cpu": {"thresholds": {"gpu_count": -1}}}},
     "overrides.cpu.thresholds.gpu_count", ["got -1", "greater than or equal to 0"]),
    ("read-infinite", {"storage.0.read_gbs": float("inf")}, "storage.0.read_gbs",
     ["got inf", "finite number"]),
    ("write-nan", {"storage.0.write_gbs": float("nan")}, "storage.0.write_gbs",
     ["got nan", "finite number"]),
    # one line of printable text: no value reaches a file or a shell with a line break in it
    ("name-newline", {"name": "lab\n"}, "name", ["got 'lab\\n'", "printable text"]),
    ("description-newline", {"site.description": "a\nb"}, "site.description",
     ["got 'a\\nb'", "without control characters"]),
    ("export-newline", {"storage.0.export": "h:/x\n/dev/sda / ext4"}, "storage.0.export",
     ["printable text"]),
    ("user-control", {"access": {"user": "root\x1b[2J"}}, "access.user",
     ["'root\\x1b[2J'", "printable text"]),
    ("repository-newline", {"package_repository": "deb file:/srv/repo ./\n"},
     "package_repository", ["printable text"]),
    ("key-newline", {"a\nb": 1}, "'a\\nb'", ["Extra inputs"]),
    ("override-key-newline", {"overrides": {"x\ny": {}}}, "overrides.'x\\ny'",
     ["unknown SKU 'x\\ny'"]),
    # storage mount points: absolute, canonical, outside the system's own directories
    ("mount-root", {"storage.0.mount": "/"}, "storage.0.mount",
     ["got '/'", "outside the system's own directories"]),
    ("mount-proc", {"storage.0.mount": "/proc"}, "storage.0.mount",
     ["got '/proc'", "outside the system's own directories", "/proc, /root, /run"]),
    ("mount-under-etc", {"storage.0.mount": "/etc/shared"}, "storage.0.mount",
     ["outside the system's own directories"]),
    ("mount-usr-local", {"storage.0.mount": "/usr/local/share"}, "storage.0.mount",
     ["outside the system's own directories"]),
    ("mount-lib64", {"storage.0.mount": "/lib64"}, "storage.0.mount", ["system's own"]),
    ("mount-var-lib", {"storage.0.mount": "/var/lib/data"}, "storage.0.mount", ["system's own"]),
    ("mount-tmp", {"storage.0.mount": "/tmp"}, "storage.0.mount", ["system's own"]),
    ("mount-root-home", {"storage.0.mount": "/root"}, "storage.0.mount", ["system's own"]),
    ("mount-dotdot", {"storage.0.mount": "/mnt/../etc"}, "storage.0.mount",
     ["got '/mnt/../etc'", "without '.' or '..' components"]),
    ("mount-dotdot-end", {"storage.0.mount": "/mnt/.."}, "storage.0.mount", ["'..'"]),
    ("mount-dot", {"storage.0.mount": "/mnt/./x"}, "storage.0.mount", ["'.' or '..'"]),
    ("mount-trailing-slash", {"storage.0.mount": "/mnt/x/"}, "storage.0.mount",
     ["absolute path", "final '/'"]),
    ("mount-leading-double-slash", {"storage.0.mount": "//mnt"}, "storage.0.mount",
     ["absolute path"]),
    ("mount-space", {"storage.0.mount": " /mnt/x"}, "storage.0.mount", ["absolute path"]),
    ("mount-empty", {"storage.0.mount": ""}, "storage.0.mount", ["absolute path"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "path", "fragments"),
    [pytest.param(*case, id=name) for name, *case in BAD],
)
def test_bad_input_names_field_and_value(
    changes: dict[str, Any], path: str, fragments: list[str]
) -> None:
    line = _line_for(_problems(_lab(changes)), path)
    for fragment in fragments:
        assert fragment in line


def test_package_repository_defaults_to_nvidia_s_cuda_repository() -> None:
    data = copy.deepcopy(LAB)
    assert (
        parse_cluster(data).package_repository == "deb [trusted=yes] file:/srv/bringup-lab/repo ./"
    )
    del data["package_repository"]
    repository = parse_cluster(data).package_repository
    assert repository == bringup.spec.CUDA_REPOSITORY
    assert "developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64/" in repository


NAME_FIELDS = ["name", "fabrics.1.name", "site.name"]
BAD_NAMES = ["Lab", "la_b", "a" * 64, "-lab", "lab-", ""]


@pytest.mark.parametrize("field", NAME_FIELDS)
@pytest.mark.parametrize(
    "name", BAD_NAMES, ids=["upper", "underscore", "64", "lead", "trail", "empty"]
)
def test_names_must_be_dns_labels(field: str, name: str) -> None:
    line = _line_for(_problems(_lab({field: name})), field)
    assert f"got {name!r}" in line
    assert DNS in line


@pytest.mark.parametrize(
    ("changes", "path", "expected"),
    [
        # its default Slurm controller, 'a…a-slurmctld', would be too long for a host name
        pytest.param(
            {"name": "a" * 63, "scheduler.controller": "ctl"}, "name", "a" * 63, id="name-63"
        ),
        pytest.param({"site.name": "a" * 16}, "site.name", "a" * 16, id="site-16"),
        pytest.param(
            {"fabrics.0.planes": 2, "fabrics.0.speed_gbps": 200},
            "fabrics.0.planes",
            2,
            id="planes-fill-nic",
        ),
        pytest.param({"racks.1.units": 18}, "racks.1.units", 18, id="nvl72-18"),
        pytest.param(
            {"fabrics.0.ipoib_mode": "connected", "fabrics.0.mtu": 65520},
            "fabrics.0.mtu",
            65520,
            id="ipoib-connected-65520",
        ),
        pytest.param({"fabrics.0.mtu": 2044}, "fabrics.0.mtu", 2044, id="ipoib-datagram-2044"),
        pytest.param({"fabrics.1.mtu": 9216}, "fabrics.1.mtu", 9216, id="ethernet-9216"),
        pytest.param(
            {"racks.1.nvlink": {"domain_trays": 9}},
            "racks.1.nvlink.domain_trays",
            9,
            id="domain-trays-9",
        ),
        pytest.param(
            {"overrides": {"cpu": {"thresholds": {"gpu_count": 0}}}},
            "overrides.cpu.thresholds.gpu_count",
            0,
            id="override",
        ),
        pytest.param(
            {"overrides": {"cpu": {"thresholds": {"row_remap_pending_allowed": True}}}},
            "overrides.cpu.thresholds.row_remap_pending_allowed",
            True,
            id="override-boolean-threshold",
        ),
        *(
            pytest.param({"storage.0.mount": mount}, "storage.0.mount", mount, id=mount)
            for mount in [
                "/mnt",
                "/home",
                "/home/shared",
                "/data",
                "/scratch/a",
                "/lustre/data",
                "/opt/apps",
                "/srv/share",
                "/library",
                "/mnt/.snapshots",
                "/mnt/a..b",
            ]
        ),
        pytest.param(
            {"site.description": "café, hall 2 (東)"},
            "site.description",
            "café, hall 2 (東)",
            id="utf8",
        ),
    ],
)
def test_boundaries_that_are_accepted(changes: dict[str, Any], path: str, expected: Any) -> None:
    value: Any = parse_cluster(_lab(changes)).model_dump(mode="json")
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    assert value == expected


def test_several_problems_give_several_lines() -> None:
    data = _lab({"name": "Lab", "racks.0.sku": "nope", "fabrics.0.switch": "nope"})
    problems = _problems(data)
    assert len(problems) == 3
    assert [p.split(": ")[0] for p in problems] == ["name", "racks.0.sku", "fabrics.0.switch"]


def test_several_consistency_problems_give_several_lines() -> None:
    problems = _problems(_lab({"fabrics.1.name": "compute", "storage.0.fabric": "nope"}))
    _line_for(problems, "fabrics.1.name")
    _line_for(problems, "storage.0.fabric")


def test_error_text_lists_each_problem_under_the_source() -> None:
    with pytest.raises(SpecError) as caught:
        parse_cluster(_lab({"racks.0.count": 0, "name": "X"}), "stack.yaml")
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid cluster declaration in stack.yaml:"
    assert lines[1:] == [f"  - {p}" for p in caught.value.problems]
    assert len(lines) == 3


@pytest.mark.parametrize("data", [None, [], "lab", 3], ids=["null", "list", "str", "int"])
def test_non_mapping_is_refused_at_root(data: Any) -> None:
    assert _problems(data) == [f"<root>: got {data!r}; expected a mapping"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("config:\n  aws:region: us-east-1\n", id="other-keys"),
        pytest.param("config: 3\n", id="scalar"),
        pytest.param("config:\n", id="empty"),
    ],
)
def test_stack_file_without_cluster_is_refused(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_cluster_text(text, "Pulumi.x.yaml")
    assert caught.value.problems == ["config: expected a 'bringup:cluster' key"]
    assert caught.value.source == "Pulumi.x.yaml"


def test_invalid_yaml_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        load_cluster_text("name: [unclosed\nsite: {", "broken.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("<yaml>: not valid YAML")


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(SpecError) as caught:
        load_cluster(path)
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)
    assert caught.value.problems[0].startswith("<file>: cannot read")


def test_docstring_example_runs() -> None:
    result = doctest.testmod(bringup.spec, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_slurm_controller_defaults_to_the_schedulers_cluster_name() -> None:
    lab = parse_cluster(_lab({}))
    assert lab.scheduler.controller_in(lab.name) == "lab-slurmctld"
    assert lab.scheduler.controller_address is None
    named = parse_cluster(_lab({"scheduler.cluster_name": "train"}))
    assert named.scheduler.controller_in(named.name) == "train-slurmctld"
    declared = parse_cluster(
        _lab({"scheduler.controller": "ctl1", "scheduler.controller_address": "10.64.0.9"})
    )
    assert declared.scheduler.controller_in(declared.name) == "ctl1"
    assert str(declared.scheduler.controller_address) == "10.64.0.9"


def test_a_slurm_scheduler_with_every_kubernetes_field_gives_a_line_for_each() -> None:
    declared = {"imex": "dra-driver", "clique_label": "bringup", "kueue": True}
    problems = _problems(_lab({"scheduler": {"kind": "slurm", **declared}}))
    assert [p.split(": ")[0] for p in problems] == [
        "scheduler.imex",
        "scheduler.clique_label",
        "scheduler.kueue",
    ]


@pytest.mark.parametrize(
    ("declared", "labeller"),
    [
        ({}, "bringup"),
        ({"imex": "dra-driver"}, "dra-driver"),
        ({"imex": "dra-driver", "clique_label": "bringup"}, "bringup"),
        ({"clique_label": "dra-driver"}, "dra-driver"),
    ],
)
def test_the_clique_label_is_the_dra_driver_s_where_it_runs_imex(
    declared: dict[str, str], labeller: str
) -> None:
    cluster = parse_cluster(_lab({"scheduler": {"kind": "kubernetes", **declared}}))
    assert cluster.scheduler.clique_labeller == labeller
    assert cluster.scheduler.imex == declared.get("imex", "host")
    assert cluster.scheduler.kueue is False


def test_a_slurm_cluster_runs_imex_on_the_host_and_labels_its_own_cliques() -> None:
    scheduler = parse_cluster(_lab({})).scheduler
    assert (scheduler.imex, scheduler.clique_labeller, scheduler.kueue) == (
        "host",
        "bringup",
        False,
    )


def test_cluster_built_in_python() -> None:
    cluster = Cluster(
        name="py",
        site=Site(name="lab"),
        racks=(RackGroup(sku="hgx-h100", count=2, hall=1, row=1, rack=1),),
    )
    assert cluster.racks[0].unit_count == 4
    assert cluster.fabrics == ()
    assert cluster.scheduler.kind == "slurm"
    as_data = {
        "name": "py",
        "site": {"name": "lab"},
        "racks": [{"sku": "hgx-h100", "count": 2, "hall": 1, "row": 1, "rack": 1}],
    }
    assert parse_cluster(as_data) == cluster


def test_plain_dict_parses_and_fills_defaults() -> None:
    cluster = parse_cluster(LAB)
    assert cluster.name == "lab"
    assert [g.unit_count for g in cluster.racks] == [2, 18, 1]
    assert [f.name for f in cluster.fabrics_of(cluster.racks[2])] == ["storage", "inband", "oob"]


@pytest.mark.parametrize("path", sorted(STACKS.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_example_stacks_parse(path: Path) -> None:
    cluster = load_cluster(path)
    assert cluster.name == path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def test_example_stacks_exist() -> None:
    assert len(list(STACKS.glob("Pulumi.*.yaml"))) >= 6


# Property: whatever is done to a valid declaration, the model answers with SpecError lines that
# start with a field path, and the planner with PlanError; never another exception.

# Keys are kept to a DNS-ish alphabet so a problem line's path can be split off at ': '.
_KEYS = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=8)
_WORDS = sorted(
    {*load_catalog().skus, *load_catalog().switches, "10.200.0.0/16", "10.128.1.0/24", "/mnt/x"}
)
# Near misses (catalog words, small numbers) reach the planner; the rest exercise the model.
_SCALARS = st.one_of(
    st.sampled_from(_WORDS),
    st.integers(0, 80),
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
)
_JUNK = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)
_PATH_HEADS = set(Cluster.model_fields) | {"<root>"}


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every dict and list in `node`, the root included."""
    found = [path]
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in children:
        if isinstance(child, dict | list):
            found += _containers(child, (*path, key))
    return found


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


@st.composite
def _mutated_lab(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(LAB)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_containers(data)))
        node = _at(data, path)
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        action = draw(st.sampled_from(["replace", "delete", "insert", "scalar"]))
        if action == "insert" and isinstance(node, dict):
            node[draw(_KEYS)] = draw(_JUNK)
        elif action == "scalar" and path and isinstance(node, list):
            _at(data, path[:-1])[path[-1]] = draw(_SCALARS)
        elif keys and action == "delete":
            del node[draw(st.sampled_from(keys))]
        elif keys:
            node[draw(st.sampled_from(keys))] = draw(_SCALARS | _JUNK)
    return data


def _spec_outcome(data: dict[str, Any]) -> Cluster | list[str]:
    try:
        return parse_cluster(data, "mutant")
    except SpecError as error:
        return error.problems


def _plan_outcome(cluster: Cluster) -> list[str] | None:
    try:
        make_plan(cluster)
    except PlanError as error:
        return error.problems
    return None


@settings(max_examples=200, deadline=None)
@given(_mutated_lab())
def test_mutated_declarations_fail_cleanly(data: dict[str, Any]) -> None:
    outcome = _spec_outcome(data)
    if isinstance(outcome, Cluster):
        problems = _plan_outcome(outcome)
        event("planned" if problems is None else "PlanError")
        assert problems is None or problems
        return
    event("SpecError")
    assert outcome
    for line in outcome:
        head = line.split(": ", 1)[0].split(".", 1)[0]
        assert head in _PATH_HEADS | set(data), line
        assert "Traceback" not in line

"""The suite against the lab (marked `root`): healthy, every node passes; with one fault of
every kind at once, each faulted node's report names the component and the check, and every
other node still passes.

The lab stack runs as declared except for two figures the lab cannot meet or has none of:
- its storage is a tmpfs on a 2-core machine shared by 21 nodes running fio at once, so the
  stack's NFS floors are lowered to what the lab measures;
- the catalog sets no NCCL / nvbandwidth / ib_write_bw floors for GB200 trays; this stack
  declares some (an override, as a site would), so the three low-bandwidth faults can sit on
  trays while the two HGX nodes carry the fabric-manager and ECC faults.
The lab derives its healthy bandwidths from the same plan, so a healthy tray is over its floor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bringup.lab.faults import FAULTS, Options
from bringup.lab.lab import Lab
from bringup.plan import make_plan
from bringup.provision import ProvisionRequest, run_playbook
from bringup.provision.inventory import write_inventory
from bringup.spec import parse_cluster
from bringup.validation.checks import Check
from bringup.validation.report import HostReport
from bringup.validation.run import run_suite
from bringup.workspace import REPOSITORY, Workspace

pytestmark = pytest.mark.root

HGX1, HGX2, CPU = "lab-h1-r01-k01-n1", "lab-h1-r01-k01-n2", "lab-h1-r01-k03-n1"


def tray(n: int) -> str:
    return f"lab-h1-r01-k02-t{n:02d}"


# fault kind, node, options -> the component and check the report must name ({} = the node);
# None for the unreachable node, which the report marks unreachable instead.
FAULT_TABLE: list[tuple[str, str, dict[str, Any], str | None, str | None]] = [
    ("daemon-dead", HGX1, {"service": "nvidia-fabricmanager"},
     "service:{}/nvidia-fabricmanager", Check.NVLINK_FABRIC_MANAGER),
    ("ecc-uncorrectable", HGX2, {"gpu": 2}, "gpu:{}/2", Check.GPU_ECC_UNCORRECTED),
    ("gpu-off-bus", tray(1), {"gpu": 3}, "gpu:{}/3", Check.GPU_COUNT),
    ("row-remap-pending", tray(2), {"gpu": 1}, "gpu:{}/1", Check.GPU_ROW_REMAP),
    ("nvlink-inactive", tray(3), {"gpu": 2, "link": 7}, "nvlink:{}/gpu2/link7",
     Check.NVLINK_LINK_STATE),
    ("xid", tray(4), {"gpu": 0, "xid": 119}, "gpu:{}/0", Check.GPU_XID),
    ("daemon-dead", tray(5), {"service": "nvidia-imex"}, "service:{}/nvidia-imex",
     Check.NVLINK_IMEX),
    ("ib-port-down", tray(6), {"device": "mlx5_0"}, "nic:{}/rail1", Check.NIC_STATE),
    ("ib-rate", tray(7), {"device": "mlx5_1"}, "nic:{}/rail2", Check.NIC_RATE),
    ("symbol-errors", tray(8), {"count": 500}, "nic:{}/rail1", Check.NIC_SYMBOL_ERRORS),
    ("cable-cut", tray(9), {"device": "mlx5_4"}, "nic:{}/rail3", Check.NIC_CARRIER),
    ("low-nccl", tray(10), {}, "node:{}", Check.BURN_IN_NCCL_BUSBW),
    ("low-nvbandwidth", tray(11), {}, "gpu:{}/0", Check.BURN_IN_NVBANDWIDTH_D2D),
    ("low-ib-write-bw", tray(12), {}, "nic:{}/rail1", Check.BURN_IN_IB_WRITE_BW),
    ("mount-missing", CPU, {}, "mount:{}/mnt/shared", Check.STORAGE_MOUNT),
    ("unreachable", tray(13), {}, None, None),
]  # fmt: skip
BURN_IN_FAULTS = {"low-nccl", "low-nvbandwidth", "low-ib-write-bw"}
TRAY_FLOORS = {  # GB/s and Gb/s; below the lab's healthy values, above its faulted ones
    "nccl_allreduce_busbw_gbs": 600.0,
    "nvbandwidth_h2d_gbs": 48.0,
    "nvbandwidth_d2d_gbs": 335.0,
    "ib_write_bw_gbps": 360.0,
}
DIAG_LEVEL = 1


def lab_cluster() -> Any:
    text = (REPOSITORY / "stacks" / "Pulumi.lab.yaml").read_text()
    data = yaml.safe_load(text)["config"]["bringup:cluster"]
    data["overrides"] = {"gb200-nvl72": {"thresholds": TRAY_FLOORS}}
    for store in data["storage"]:
        store["read_gbs"] = store["write_gbs"] = 0.001
    return parse_cluster(data, "lab (validation test)")


PLAN = make_plan(lab_cluster())
HOSTS = [n.name for n in PLAN.nodes]


class Bench:
    """The lab, its inventory and the runs against it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.inventory = write_inventory(PLAN, lab.workspace.stack("lab"))
        self.burn_in_dir = lab.workspace.root / ".state" / "burn-in"

    def playbook(self, name: str, hosts: list[str], **extra: Any) -> None:
        request = ProvisionRequest(
            playbook=REPOSITORY / "playbooks" / name,
            inventory=self.inventory,
            private_data_dir=self.lab.workspace.root / "runs",
            hosts=tuple(hosts),
            access=self.lab.access(),
            extra_vars=extra,
        )
        result = run_playbook(request)
        bad = {h: r for h, r in result.hosts.items() if r.status not in ("ok", "changed")}
        assert not bad, f"{name}: {bad}"

    def burn_in(self, hosts: list[str]) -> None:
        self.playbook("burn_in.yml", hosts, burn_in_dcgm_diag_level=DIAG_LEVEL,
                      burn_in_fetch_dir=str(self.burn_in_dir))  # fmt: skip

    def validate(self, report: Path) -> dict[str, HostReport]:
        started = time.monotonic()
        reports = run_suite(
            self.inventory, HOSTS, suite=REPOSITORY / "tests" / "validation", report=report,
            junit=report.with_suffix(".xml"),
            burn_in_dir=self.burn_in_dir, ssh_config=self.lab.ssh_config,
            extra_args=[f"--bringup-diag-level={DIAG_LEVEL}"],
        )  # fmt: skip
        print(f"suite on {len(HOSTS)} nodes: {time.monotonic() - started:.1f} s")
        return reports


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    lab = Lab(Workspace(tmp_path_factory.mktemp("project")), "lab")
    lab.down()
    lab.up(PLAN)
    try:
        bench = Bench(lab)
        gpu_nodes = [n.name for n in PLAN.nodes if n.sku != "cpu"]
        bench.playbook("provision.yml", HOSTS)
        bench.burn_in(gpu_nodes)
        yield bench
    finally:
        lab.down()


def not_passed(report: HostReport) -> list[str]:
    return [f"{t.nodeid}: {t.outcome} {t.message[:300]}" for t in report.tests
            if t.outcome not in ("passed", "skipped")]  # fmt: skip


def test_table_covers_every_fault_kind() -> None:
    assert {kind for kind, *_ in FAULT_TABLE} == set(FAULTS)
    nodes = [node for _, node, *_ in FAULT_TABLE]
    assert len(nodes) == len(set(nodes)) < len(HOSTS)  # one fault per node, some nodes healthy


def test_healthy_lab_passes_everywhere(bench: Bench, tmp_path: Path) -> None:
    reports = bench.validate(tmp_path / "healthy.json")
    assert sorted(reports) == sorted(HOSTS)
    assert {h: r.message for h, r in reports.items() if r.unreachable} == {}
    assert {h: not_passed(r) for h, r in reports.items() if not_passed(r)} == {}
    for name in HOSTS:
        # every check of a GPU node ran (no skip stands in for a pass); the CPU node skips
        # only what it has no hardware or burn-in for (no GPU, no NVLink, no IPoIB port)
        skipped = [t.nodeid for t in reports[name].tests if t.outcome == "skipped"]
        if name == CPU:
            assert skipped
            assert all("test_gpu" in s or "test_nvlink" in s or "burn_in" in s or "fio" in s
                       or "nic.ipoib_mode" in s for s in skipped), skipped  # fmt: skip
        else:
            assert skipped == [], name


def test_every_fault_is_named(bench: Bench, tmp_path: Path) -> None:
    for kind, node, options, _, _ in FAULT_TABLE:
        bench.lab.fault(node, kind, Options(**options))
    bench.burn_in([node for kind, node, *_ in FAULT_TABLE if kind in BURN_IN_FAULTS])
    reports = bench.validate(tmp_path / "faulted.json")
    faulted = set()
    for kind, node, _, component, check in FAULT_TABLE:
        faulted.add(node)
        report = reports[node]
        if component is None:
            assert report.unreachable, kind
            assert report.failed == ()
            continue
        assert not report.unreachable, kind
        named = {(f.component, f.check) for f in report.findings}
        assert (component.format(node), check) in named, f"{kind} on {node}: {sorted(named)}"
    healthy = {h: not_passed(r) for h, r in reports.items() if h not in faulted}
    assert len(healthy) == len(HOSTS) - len(FAULT_TABLE)
    assert {h: bad for h, bad in healthy.items() if bad} == {}

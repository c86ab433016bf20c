"""The roles on lab nodes (marked `root`): check mode on fresh nodes, a converge, a second converge
that changes nothing, then burn-in.

One lab for the module: the `lab` stack's first 4 nodes (2 HGX H100 nodes, 2 GB200 NVL72 trays),
with its inventory rendered by bringup.render into a temporary folder, and the playbooks run by
ansible-runner over real SSH with the lab's key and known_hosts. The tests run in file order: each
one reads the state the previous left.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

from bringup.catalog import load_catalog
from bringup.lab.lab import Lab
from bringup.parsers.dcgmi import parse_diag_json
from bringup.parsers.nccl_tests import parse_nccl_tests
from bringup.parsers.nvbandwidth import parse_nvbandwidth
from bringup.parsers.perftest import parse_perftest
from bringup.plan import make_plan, node_expectation
from bringup.spec import load_cluster
from bringup.workspace import Workspace

from .conftest import PLAYBOOKS, STACKS, ansible_env, render_inventory, write_inventory

pytestmark = pytest.mark.root

PLAN = make_plan(load_cluster(STACKS / "Pulumi.lab.yaml"))
NODES = PLAN.nodes[:4]
STATES = {n.name: node_expectation(PLAN, n).to_json() for n in NODES}
HGX = [n.name for n in NODES if n.sku == "hgx-h100"]
TRAYS = [n.name for n in NODES if n.sku == "gb200-nvl72"]
# Every package any SKU pins: what must be on a node is its SKU's, and nothing else of these.
CATALOG_PACKAGES = sorted(
    {p.name for s in load_catalog().skus.values() if s.software for p in s.software.packages}
)
SECONDS: dict[str, float] = {}


@dataclass(frozen=True)
class Run:
    """The per-host tallies of one playbook run, and the messages of its failed tasks."""

    stats: dict[str, dict[str, int]]
    failures: list[str]
    seconds: float

    def count(self, kind: str, host: str) -> int:
        return self.stats.get(kind, {}).get(host, 0)

    def assert_clean(self, hosts: Iterable[str] = STATES) -> None:
        """No host failed or unreachable, and every host of `hosts` ran."""
        assert not self.failures, "\n".join(self.failures[:10])
        for host in hosts:
            assert self.count("ok", host) > 0, f"{host} did not run: {self.stats}"
            assert not self.count("failures", host), f"{host} failed: {self.stats}"
            assert not self.count("dark", host), f"{host} unreachable: {self.stats}"


@dataclass(frozen=True)
class Env:
    lab: Lab
    inventory: Path
    work: Path
    states: dict[str, dict[str, Any]] = field(default_factory=lambda: STATES)
    """The nodes the playbooks run on, with their expectations."""

    def play(self, playbook: str, check: bool = False, **extra: Any) -> Run:
        """Run playbooks/`playbook` against the lab's nodes."""
        failures: list[str] = []

        def on_event(event: dict[str, Any]) -> bool:
            data = event.get("event_data", {})
            if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
                res = data.get("res", {})
                failures.append(f"{data.get('host')}: {data.get('task')}: {res.get('msg', res)}")
            return True

        ssh_args = "-o ControlMaster=auto -o ControlPersist=60s -o StrictHostKeyChecking=yes"
        env = ansible_env(
            ANSIBLE_PRIVATE_KEY_FILE=str(self.lab.key),
            ANSIBLE_SSH_ARGS=f"{ssh_args} -o UserKnownHostsFile={self.lab.known_hosts}",
            ANSIBLE_REMOTE_USER="root",
        )
        private = self.work / f"runner-{len(SECONDS)}"
        private.mkdir()
        started = time.monotonic()
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(PLAYBOOKS / playbook),
            inventory=str(self.inventory),
            limit=",".join(self.states),
            extravars={**self.lab.access().extra_vars, **extra},
            envvars=env,
            cmdline="--check --diff" if check else None,
            quiet=True,
            event_handler=on_event,
        )
        seconds = time.monotonic() - started
        SECONDS[f"{playbook}{' --check' if check else ''} #{len(SECONDS)}"] = round(seconds, 1)
        return Run(runner.stats or {}, failures, seconds)

    def sh(self, host: str, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `command` on `host` over SSH (strict host-key checking, one connection reused)."""
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        argv += ["-o", f"UserKnownHostsFile={self.lab.known_hosts}", "-i", str(self.lab.key)]
        argv += ["-o", "ControlMaster=auto", "-o", "ControlPersist=30"]
        argv += ["-o", f"ControlPath={self.work}/ssh-%C"]
        argv += [f"root@{self.states[host]['management_address']}", command]
        return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=120)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("roles")
    lab = Lab(Workspace(work / "project"), "lab")
    lab.down()
    try:
        lab.up(PLAN, len(NODES))
        inventory = write_inventory(render_inventory(PLAN, "lab"), work / "inventory")
        yield Env(lab, inventory, work)
    finally:
        lab.down()
        print(f"\nplaybook wall times (s): {SECONDS}")


def installed(env: Env, host: str) -> dict[str, str]:
    """Catalog packages on `host`: name -> 'version status' (status e.g. 'hold ok installed')."""
    fmt = "'${Package} ${Version} ${Status}\\n'"
    out = env.sh(host, f"dpkg-query -W -f={fmt} {' '.join(CATALOG_PACKAGES)} 2>/dev/null", False)
    rows = [line.split(" ", 2) for line in out.stdout.splitlines()]
    return {r[0]: f"{r[1]} {r[2]}" for r in rows if len(r) == 3 and r[2].endswith(" installed")}


def interfaces(env: Env, host: str) -> dict[str, dict[str, Any]]:
    links = json.loads(env.sh(host, "ip -j addr show").stdout)
    return {link["ifname"]: link for link in links}


def test_check_mode_on_fresh_nodes_reports_changes_and_makes_none(env: Env) -> None:
    before = {host: interfaces(env, host) for host in STATES}
    run = env.play("provision.yml", check=True)
    run.assert_clean()
    for host in STATES:
        assert run.count("changed", host) > 0, f"{host}: check mode reported no change"
        assert installed(env, host) == {}, f"{host}: check mode installed packages"
        made = env.sh(
            host,
            "ls /etc/apt/sources.list.d/bringup-nvidia.list /etc/nvidia-imex "
            "/etc/netplan/60-bringup-rails.yaml /etc/profile.d/bringup-cuda.sh "
            "/etc/infiniband/openib.conf /etc/modprobe.d/bringup-doca-ofed.conf 2>/dev/null; "
            "findmnt -n /mnt/shared",
            check=False,
        )
        assert made.stdout == "", f"{host}: check mode made {made.stdout}"
        mtus = {name: link["mtu"] for name, link in interfaces(env, host).items()}
        assert mtus == {name: link["mtu"] for name, link in before[host].items()}


def test_converge_succeeds_on_every_node(env: Env) -> None:
    run = env.play("provision.yml")
    run.assert_clean()
    for host in STATES:
        assert run.count("changed", host) > 0


def test_each_node_has_exactly_its_sku_s_packages_pinned_and_held(env: Env) -> None:
    for host, state in STATES.items():
        planned = {
            p["name"]: f"{p['version']} hold ok installed" for p in state["software"]["packages"]
        }
        assert installed(env, host) == planned, host


def test_fabric_manager_runs_on_hgx_and_imex_on_trays(env: Env) -> None:
    for host in HGX:
        assert env.sh(host, "/etc/init.d/nvidia-fabricmanager status", False).returncode == 0
        assert env.sh(host, "ls /etc/rc2.d/S*nvidia-fabricmanager").returncode == 0
        assert env.sh(host, "test -e /etc/init.d/nvidia-imex", False).returncode != 0
        cfg = env.sh(host, "cat /usr/share/nvidia/nvswitch/fabricmanager.cfg").stdout
        assert "FABRIC_MODE=0" in cfg.splitlines()
    for host in TRAYS:
        assert env.sh(host, "/etc/init.d/nvidia-imex status", False).returncode == 0
        assert env.sh(host, "ls /etc/rc2.d/S*nvidia-imex").returncode == 0
        assert env.sh(host, "test -e /etc/init.d/nvidia-fabricmanager", False).returncode != 0


def test_dcgm_runs_on_every_gpu_node(env: Env) -> None:
    for host in STATES:
        assert env.sh(host, "/etc/init.d/nvidia-dcgm status", False).returncode == 0, host


def test_the_imex_nodes_config_lists_the_domain_s_peers_on_every_tray(env: Env) -> None:
    configs = {}
    for host in TRAYS:
        text = env.sh(host, "cat /etc/nvidia-imex/nodes_config.cfg").stdout
        configs[host] = [line for line in text.splitlines() if line and not line.startswith("#")]
        peers = [p["address"] for p in STATES[host]["nvlink"]["imex_peers"]]
        assert configs[host] == peers, host
        assert len(peers) == 18
    assert len({tuple(c) for c in configs.values()}) == 1
    config = env.sh(TRAYS[0], "cat /etc/nvidia-imex/config.cfg").stdout.splitlines()
    assert "IMEX_NODE_CONFIG_FILE=/etc/nvidia-imex/nodes_config.cfg" in config
    for host in HGX:
        assert env.sh(host, "test -e /etc/nvidia-imex/nodes_config.cfg", False).returncode != 0


def test_every_rail_carries_its_planned_address_and_mtu_and_is_up(env: Env) -> None:
    for host, state in STATES.items():
        links = interfaces(env, host)
        for nic in state["nics"]:
            link = links[nic["netdev"]]
            addresses = [
                f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["family"] == "inet"
            ]
            where = f"{host} {nic['netdev']}"
            assert addresses == [f"{nic['address']}/{nic['prefix']}"], where
            assert link["mtu"] == nic["mtu"], where
            assert "UP" in link["flags"], where
        netplan = env.sh(host, "cat /etc/netplan/60-bringup-rails.yaml").stdout
        assert all(f"{n['netdev']}:" in netplan for n in state["nics"])


def test_the_planned_mount_is_there(env: Env) -> None:
    for host in STATES:
        out = env.sh(host, "findmnt -n -o SOURCE,FSTYPE /mnt/shared").stdout.split()
        assert out == ["shared", "tmpfs"], host
        assert "shared /mnt/shared tmpfs" in env.sh(host, "cat /etc/fstab").stdout


def test_the_tools_work_after_the_converge(env: Env) -> None:
    for host, state in STATES.items():
        gpus = env.sh(host, "nvidia-smi -L").stdout.splitlines()
        assert len(gpus) == state["gpu"]["count"], host
        assert "State: Active" in env.sh(host, "ibstat").stdout
        diag = env.sh(host, "dcgmi diag -r 1", False)
        assert diag.returncode == 0, f"{host}: {diag.stdout}{diag.stderr}"
        assert "/usr/local/cuda-12.8/bin" in env.sh(host, "bash -lc 'echo $PATH'").stdout


def test_a_second_converge_changes_nothing(env: Env) -> None:
    run = env.play("provision.yml")
    run.assert_clean()
    changed = {host: run.count("changed", host) for host in STATES}
    assert changed == dict.fromkeys(STATES, 0)


def test_burn_in_runs_every_test_and_collects_the_outputs(env: Env) -> None:
    fetched = env.work / "burn-in"
    run = env.play("burn_in.yml", burn_in_fetch_dir=str(fetched))
    run.assert_clean()
    for host, state in STATES.items():
        assert run.count("changed", host) > 0, f"{host}: burn-in runs are actions"
        out = fetched / host
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["dcgm_diag_level"] == state["thresholds"]["dcgm_diag_level"]
        assert manifest["tools_missing"] in ([], ["fio"])
        report = parse_diag_json((out / "dcgmi-diag.json").read_text())
        assert not report.failed, host
        nccl = parse_nccl_tests((out / "all_reduce_perf.txt").read_text())
        assert nccl.avg_busbw_gbps, host
        bandwidth = parse_nvbandwidth((out / "nvbandwidth.txt").read_text())
        assert [t.name for t in bandwidth.testcases] == manifest["nvbandwidth_testcases"], host
        hcas = [n for n in state["nics"] if n["role"] == "compute"]
        assert hcas
        for nic in hcas:
            name = f"ib_write_bw-{nic['device']}-{nic['port']}"
            assert (out / f"{name}.rc").read_text().strip() == "0", f"{host} {name}"
            assert parse_perftest((out / f"{name}.txt").read_text()).rows, f"{host} {name}"

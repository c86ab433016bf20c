"""A real slurmctld 24.11 accepts the Slurm configuration of every stack in stacks/.

Each stack's files are rendered with a site of this host's own: the controller is this host's
short name (slurmctld starts only on the host SlurmctldHost names) at 127.0.0.1 on a free port;
its state, logs and pid files lie under the test's folder; plugins come from the staged build;
MUNGE is a munged of the test's own on a socket of its own (never the default socket, which the
lab's munged serves). The nodes are FUTURE: slurmctld reads and checks every one of them but
contacts none (their planned addresses may be anyone's, the lab's included), and
``sinfo --future`` lists them.

The test waits until slurmctld runs as the primary controller and answers, reads every node's
partitions back with sinfo, stops it, and reads its log: no fatal line, no warning (a topology
that leaves nodes outside every block or switch is a warning), and no error but the few a first
start on an empty StateSaveLocation always logs.
"""

from __future__ import annotations

import os
import pwd
import re
import signal
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from bringup.catalog import load_catalog
from bringup.plan import Plan
from bringup.plan.expectation import management_address
from bringup.plan.scheduler import slurm_topology
from bringup.render.slurm import (
    GPU_PARTITION,
    SlurmSite,
    partition_name,
    real_memory_mib,
    render_slurm_files,
)
from bringup.workspace import SlurmInstall

from .conftest import ROOT, STACKS, stack_plan

pytestmark = pytest.mark.slurm

INSTALL = SlurmInstall(ROOT / ".tools")
MUNGED = Path("/usr/sbin/munged")  # the munge package; scripts/build-slurm installs it
STACK_NAMES = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS.glob("Pulumi.*.yaml")
)

# Seconds, for a busy 2-core machine: gb300-100k (25,056 nodes) starts in a few seconds there.
START_TIMEOUT = 300.0
COMMAND_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0

# What a controller's first start on an empty StateSaveLocation logs, whatever its configuration.
FIRST_START = re.compile(
    r"error: (Could not open (job|node|reservation|trigger) state file .*: No such file or "
    r"directory|NOTE: Trying backup state save file\. .*)$"
)
RUNNING = "Running as primary controller"


@pytest.fixture(scope="module")
def munge_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A munged of this module's own: its socket."""
    assert MUNGED.exists(), f"{MUNGED} is missing: scripts/build-slurm installs munge"
    folder = tmp_path_factory.mktemp("munge")
    key = folder / "munge.key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(1024))
    sock = folder / "munge.sock"
    log = folder / "munged.log"
    with log.open("w") as out:
        # --force: munged refuses sockets in folders that not everyone may enter (pytest's)
        munged = subprocess.Popen(
            [
                str(MUNGED),
                "--foreground",
                "--force",
                f"--socket={sock}",
                f"--key-file={key}",
                f"--pid-file={folder / 'munged.pid'}",
                f"--seed-file={folder / 'munged.seed'}",
                f"--log-file={log}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert munged.poll() is None, f"munged exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"munged made no socket: {log.read_text()}"
            time.sleep(0.05)
        yield sock
    finally:
        _stop(munged)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Stop a process this module started; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return process.returncode


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _site(folder: Path, sock: Path) -> SlurmSite:
    return SlurmSite(
        controller=socket.gethostname().split(".")[0],
        controller_address="127.0.0.1",
        controller_port=_free_port(),
        plugin_dir=str(INSTALL.plugin_dir),
        state_dir=str(folder / "state"),
        spool_dir=str(folder / "spool"),
        log_dir=str(folder / "log"),
        run_dir=str(folder / "run"),
        slurm_user=pwd.getpwuid(os.getuid()).pw_name,
        auth_socket=str(sock),
        future_nodes=True,
    )


def _expected(plan: Plan) -> dict[str, dict[str, str]]:
    """What `scontrol show node` must say of each node, from the plan and the catalog."""
    catalog = load_catalog()
    expected = {}
    for node in plan.nodes:
        sku = catalog.sku(node.sku)
        gpus = sku.gpus_per_unit
        partitions = [partition_name(node.sku), GPU_PARTITION] if gpus else [partition_name(None)]
        expected[node.name] = {
            "NodeAddr": management_address(plan, node) or node.name,
            "Sockets": str(sku.host.sockets),
            "CoresPerSocket": str(sku.host.cores_per_socket),
            "ThreadsPerCore": str(sku.host.threads_per_core),
            "RealMemory": str(real_memory_mib(sku)),
            "Gres": f"gpu:{gpus}" if gpus else "(null)",
            "AvailableFeatures": node.sku,
            "Partitions": ",".join(sorted(partitions)),
            "State": "FUTURE",
        }
    return expected


def _run(args: list[str], conf: Path) -> str:
    result = subprocess.run(
        [str(INSTALL.program(args[0])), *args[1:]],
        env=INSTALL.env(conf),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(args)}: {result.stderr.strip()}"
    return result.stdout


def _wait_running(controller: subprocess.Popen[bytes], log: Path) -> float:
    """Seconds until slurmctld logs that it runs as the primary controller."""
    start = time.monotonic()
    while not (log.exists() and RUNNING in log.read_text(errors="replace")):
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        assert controller.poll() is None, f"slurmctld exited {controller.returncode}:\n{tail}"
        assert time.monotonic() - start < START_TIMEOUT, f"slurmctld not running:\n{tail}"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_slurmctld_runs_the_stacks_configuration(
    stack: str, munge_socket: Path, tmp_path: Path
) -> None:
    assert INSTALL.built(), "Slurm is not built: run scripts/build-slurm (`make setup` does)"
    plan = stack_plan(stack)
    site = _site(tmp_path, munge_socket)
    etc = tmp_path / "etc"
    for folder in (etc, tmp_path / "state", tmp_path / "spool", tmp_path / "log", tmp_path / "run"):
        folder.mkdir()
    for name, text in render_slurm_files(plan, site).items():
        (etc / name).write_text(text, encoding="utf-8")
    conf = etc / "slurm.conf"
    log = tmp_path / "log" / "slurmctld.log"
    with (tmp_path / "slurmctld.out").open("w") as out:
        controller = subprocess.Popen(
            [str(INSTALL.program("slurmctld")), "-D", "-c", "-f", str(conf)],
            env=INSTALL.env(conf),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        seconds = _wait_running(controller, log)
        print(f"{stack}: {len(plan.nodes)} nodes, slurmctld running after {seconds:.1f} s")
        assert "is UP" in _run(["scontrol", "ping"], conf)
        shown = _run(["scontrol", "show", "node", "--future", "--oneliner"], conf)
        by_partition = _run(["sinfo", "--future", "--noheader", "--format=%R %N"], conf)
        listed: dict[str, set[str]] = defaultdict(set)
        for line in by_partition.splitlines():
            partition, nodes = line.split()
            for node in _run(["scontrol", "show", "hostnames", nodes], conf).split():
                listed[node].add(partition)
        topology = _run(["scontrol", "show", "topology"], conf)
    finally:
        status = _stop(controller)
    assert status == 0, f"slurmctld exited {status} on SIGTERM"
    expected = _expected(plan)
    nodes = {}
    for line in shown.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        fields["Partitions"] = ",".join(sorted(fields["Partitions"].split(",")))
        nodes[fields["NodeName"]] = {
            key: fields.get(key, "") for key in expected[plan.nodes[0].name]
        }
    assert set(nodes) == set(expected), (
        f"slurmctld's nodes differ: {sorted(set(nodes) ^ set(expected))[:5]}"
    )
    wrong = [(n, nodes[n], expected[n]) for n in expected if nodes[n] != expected[n]]
    assert not wrong, f"{len(wrong)} nodes as slurmctld read them, and as planned: {wrong[:2]}"
    partitions = {n: ",".join(sorted(p)) for n, p in listed.items()}
    assert partitions == {n: e["Partitions"] for n, e in expected.items()}, (
        "sinfo lists other nodes"
    )
    planned = slurm_topology(plan)
    read = re.findall(r"^(\w+)=(\S+)(?: .* BlockSize=(\d+))?", topology, re.M)
    names = {name for keyword, name, _ in read if keyword in ("BlockName", "SwitchName")}
    assert names == {line.name for line in planned.lines}, "slurmctld's topology differs"
    # the blocks and the aggregates of 2, 4 … blocks that Slurm made of consecutive lines
    assert {int(size) for *_, size in read if size} == set(planned.block_sizes)
    text = log.read_text(errors="replace")
    problems = [
        line
        for line in text.splitlines()
        if re.search(r"\b(fatal|warning):", line)
        or ("error:" in line and not FIRST_START.search(line))
    ]
    assert not problems, "slurmctld logged:\n" + "\n".join(problems[:20])

"""The Slurm adapter against a real slurmctld and two real slurmds (marked `slurm` and `root`).

Each test starts from both nodes idle and not held; what the adapter did is checked with the
operator's own tools (sinfo, scontrol), not with the adapter's reading of itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bringup.scheduler.adapter import SchedulerError
from bringup.scheduler.slurm import SlurmScheduler
from tests.unit.scheduler.slurm_cluster import NODES, SlurmCluster, slurm_cluster

pytestmark = [pytest.mark.slurm, pytest.mark.root]

PENDING = "bringup: validation pending (run r1)"
GPU = 'bringup: gpu:n2/0 gpu.ecc_uncorrected "3" (run r1)'  # ends with a quote, as scontrol strips


class Recording(SlurmScheduler):
    """The adapter, with every scontrol command it runs kept."""

    def __init__(self, cluster: SlurmCluster) -> None:
        super().__init__(cluster.access)
        self.commands: list[list[str]] = []

    def _scontrol(self, args: Sequence[str]) -> str:
        self.commands.append(list(args))
        return super()._scontrol(args)

    def updates(self) -> list[list[str]]:
        return [c for c in self.commands if c[0] == "update"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


@pytest.fixture
def slurm(cluster: SlurmCluster) -> Recording:
    """The adapter, on both nodes idle and not held (whatever the test before left)."""
    drained = [n for n, flags in cluster.states().items() if "DRAIN" in flags]
    if drained:
        cluster.scontrol("update", f"NodeName={','.join(drained)}", "State=RESUME")
    cluster.wait_idle()
    return Recording(cluster)


def test_hold_drains_with_bringups_reason_as_sinfo_shows_it(
    cluster: SlurmCluster, slurm: Recording
) -> None:
    result = slurm.hold({GPU: ["n1", "n2"]})
    assert cluster.sinfo() == dict.fromkeys(NODES, ("drained", GPU))
    assert result.with_outcome("held") == ["n1", "n2"]
    assert result.outcomes["n1"].describe() == f"drained: {GPU}"
    assert slurm.updates() == [["update", "NodeName=n[1-2]", "State=DRAIN", f'Reason="{GPU}"']]


def test_release_makes_bringups_holds_idle(cluster: SlurmCluster, slurm: Recording) -> None:
    slurm.hold({PENDING: list(NODES)})
    result = slurm.release(list(NODES))
    assert result.with_outcome("released") == ["n1", "n2"]
    # idle, "*" until the slurmd registers again, as Slurm asks of a node that was drained
    assert result.outcomes["n2"].describe() in ("idle", "idle*")
    cluster.wait_idle()
    assert {n: s for n, (s, _) in cluster.sinfo().items()} == dict.fromkeys(NODES, "idle")


def test_an_operators_drain_survives_release_and_is_reported_kept(
    cluster: SlurmCluster, slurm: Recording
) -> None:
    drained = cluster.scontrol("update", "NodeName=n1", "State=DRAIN", 'reason="hw ticket 123"')
    assert drained.returncode == 0, drained.stderr
    held = slurm.hold({PENDING: list(NODES)})
    released = slurm.release(list(NODES))
    cluster.wait_idle(drained=["n1"])
    assert cluster.sinfo() == {"n1": ("drained", "hw ticket 123"), "n2": ("idle", PENDING)}
    assert held.with_outcome("kept") == released.with_outcome("kept") == ["n1"]
    assert released.outcomes["n1"].describe() == "kept drained by operator: hw ticket 123"
    assert ["update", "NodeName=n1", "State=RESUME"] not in slurm.commands


def test_a_resumed_node_keeps_its_old_reason_but_is_not_held(
    cluster: SlurmCluster, slurm: Recording
) -> None:
    slurm.hold({PENDING: ["n1"]})
    cluster.scontrol("update", "NodeName=n1", "State=RESUME")
    cluster.wait_idle()
    node = slurm.nodes(["n1"])["n1"]
    assert (node.state, node.reason) == ("idle", PENDING)  # Slurm 24.11 keeps the reason
    assert not node.held
    assert not node.owned
    slurm.commands.clear()
    assert slurm.release(["n1"]).with_outcome("released") == ["n1"]
    assert slurm.updates() == []  # nothing to lift


def test_two_reasons_are_two_commands_each_on_a_hostlist(
    cluster: SlurmCluster, slurm: Recording
) -> None:
    result = slurm.hold({PENDING: ["n2"], GPU: ["n1"]})
    assert cluster.sinfo() == {"n1": ("drained", GPU), "n2": ("drained", PENDING)}
    assert sorted(c[1:] for c in slurm.updates()) == [
        ["NodeName=n1", "State=DRAIN", f'Reason="{GPU}"'],
        ["NodeName=n2", "State=DRAIN", f'Reason="{PENDING}"'],
    ]
    assert result.with_outcome("held") == ["n1", "n2"]
    slurm.commands.clear()
    slurm.hold({PENDING: ["n2"], GPU: ["n1"]})  # already so: read, nothing changed
    assert slurm.updates() == []


def test_a_node_slurm_does_not_know_is_reported_missing(
    cluster: SlurmCluster, slurm: Recording
) -> None:
    held = slurm.hold({PENDING: ["n1", "ghost7"]})
    assert (held.with_outcome("held"), held.with_outcome("missing")) == (["n1"], ["ghost7"])
    assert cluster.sinfo()["n1"] == ("drained", PENDING)
    assert slurm.release(["ghost7"]).outcomes["ghost7"].describe() == "not in the scheduler"
    assert slurm.nodes(["ghost7"]) == {}


def test_an_unreachable_controller_is_a_scheduler_error_naming_the_command(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with slurm_cluster(tmp_path_factory.mktemp("stopped")) as stopped:
        stopped.stop_controller()
        with pytest.raises(SchedulerError) as raised:
            SlurmScheduler(stopped.access).hold({PENDING: ["n1"]})
    (line,) = raised.value.lines()
    assert line.startswith("slurm: `scontrol --json show node n1` failed (exit 1): ")
    assert "Unable to contact slurm controller" in line


def test_the_cluster_leaves_no_daemon_running(tmp_path: Path) -> None:
    with slurm_cluster(tmp_path) as running:
        pids = [p.pid for p in running.processes.values()]
        assert len(pids) == 4
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]

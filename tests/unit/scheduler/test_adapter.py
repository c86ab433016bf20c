"""The adapters' shared rules, on a scheduler in memory: ownership, outcomes, reasons, registry."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from bringup.access import AccessError, SchedulerAccess
from bringup.scheduler import adapter, kubernetes, none, slurm
from bringup.scheduler.adapter import REASON_LIMIT, adapter_for, bringup_reason
from bringup.scheduler.kubernetes import KubernetesScheduler
from bringup.scheduler.none import NoScheduler
from bringup.scheduler.slurm import SlurmScheduler
from tests.unit.scheduler.fakes import FakeScheduler

PENDING = "bringup: validation pending (run r1)"
GPU = "bringup: gpu:n2/0 gpu.ecc_uncorrected (run r1)"


def test_hold_drains_each_reason_once_and_reports_each_node() -> None:
    fake = FakeScheduler("n1", "n2", "n3")
    result = fake.hold({PENDING: ["n1", "n3"], GPU: ["n2"]})
    assert fake.calls == [("drain", ("n1", "n3"), PENDING), ("drain", ("n2",), GPU)]
    assert result.with_outcome("held") == ["n1", "n2", "n3"]
    assert result.outcomes["n2"].describe() == f"drained: {GPU}"


def test_a_hold_already_in_place_is_not_made_again() -> None:
    fake = FakeScheduler("n1")
    fake.hold({PENDING: ["n1"]})
    result = fake.hold({PENDING: ["n1"]})
    assert len(fake.calls) == 1
    assert result.with_outcome("held") == ["n1"]


def test_an_operators_hold_is_never_overwritten_nor_lifted() -> None:
    fake = FakeScheduler("n1", "n2")
    fake.set("n1", "drained", reason="hw ticket 123", held=True)
    held = fake.hold({GPU: ["n1", "n2"]})
    assert fake.calls == [("drain", ("n2",), GPU)]
    assert held.with_outcome("kept") == ["n1"]
    assert held.outcomes["n1"].describe() == "kept drained by operator: hw ticket 123"
    released = fake.release(["n1", "n2"])
    assert fake.calls[-1] == ("resume", ("n2",), "")
    assert released.with_outcome("kept") == ["n1"]
    assert fake.reasons() == {"n1": "hw ticket 123"}


def test_release_lifts_only_bringups_holds_and_reads_the_state_after() -> None:
    fake = FakeScheduler("n1", "n2")
    fake.hold({GPU: ["n1"]})
    result = fake.release(["n1", "n2", "n1"])
    assert fake.calls[-1] == ("resume", ("n1",), "")
    assert result.with_outcome("released") == ["n1", "n2"]
    assert result.outcomes["n1"].describe() == "idle"  # the old reason is not reported


def test_a_resumed_node_with_its_old_reason_is_not_held_by_anyone() -> None:
    fake = FakeScheduler("n1")
    fake.set("n1", "idle", reason=GPU)  # resumed by hand: Slurm keeps the reason
    node = fake.nodes(["n1"])["n1"]
    assert (node.held, node.owned, node.by_operator) == (False, False, False)
    assert fake.release(["n1"]).with_outcome("released") == ["n1"]
    assert fake.calls == []


def test_a_node_the_scheduler_does_not_know_is_reported_not_raised() -> None:
    fake = FakeScheduler("n1")
    held = fake.hold({PENDING: ["n1", "ghost"]})
    assert (held.with_outcome("held"), held.with_outcome("missing")) == (["n1"], ["ghost"])
    assert fake.calls == [("drain", ("n1",), PENDING)]
    assert fake.release(["ghost"]).outcomes["ghost"].describe() == "not in the scheduler"


@pytest.mark.parametrize(
    ("holds", "message"),
    [
        ({"hw ticket": ["n1"]}, "hold reason 'hw ticket': expected one line starting 'bringup:'"),
        ({"bringup: a\nb": ["n1"]}, "expected one line"),
        ({PENDING: ["n1"], GPU: ["n1"]}, "node n1: two hold reasons"),
    ],
)
def test_a_reason_that_is_not_bringups_is_refused(
    holds: dict[str, list[str]], message: str
) -> None:
    fake = FakeScheduler("n1")
    with pytest.raises(ValueError, match=message):
        fake.hold(holds)
    assert fake.calls == []


def test_reasons_are_one_line_and_shortened_keeping_the_run() -> None:
    assert bringup_reason("gpu:n1/0\tgpu.ecc\n x", "r1") == "bringup: gpu:n1/0 gpu.ecc x (run r1)"
    long = bringup_reason("nvlink domain rack-a held: " + "t" * 300, "20261206T140500-1a2b3c4d")
    assert len(long) == REASON_LIMIT
    assert long.startswith("bringup: nvlink domain rack-a held: ttt")
    assert long.endswith("... (run 20261206T140500-1a2b3c4d)")


def test_the_registry_builds_each_adapter_by_name() -> None:
    assert isinstance(adapter_for(SchedulerAccess()), NoScheduler)
    built = adapter_for(SchedulerAccess.slurm())
    assert isinstance(built, SlurmScheduler)
    assert built.drives
    assert not NoScheduler().drives
    kubernetes = adapter_for(SchedulerAccess.kubernetes(Path("/k/config"), "ops"))
    assert isinstance(kubernetes, KubernetesScheduler)
    assert (kubernetes.drives, kubernetes.takes_labels) == (True, True)
    assert kubernetes.describe() == "kubernetes (/k/config, context ops)"
    expected = "scheduler adapter 'pbs': expected one of kubernetes, none, slurm"
    with pytest.raises(AccessError, match=expected):
        adapter_for(SchedulerAccess(adapter="pbs"))


def test_none_tells_nothing_and_says_so() -> None:
    quiet = NoScheduler()
    assert quiet.nodes(["n1"]) == {}
    assert quiet.release(["n1"]).outcomes == {}
    assert "no scheduler is told" in quiet.describe()


@pytest.mark.parametrize("module", [adapter, kubernetes, none, slurm], ids=lambda m: m.__name__)
def test_the_examples_in_the_docstrings_hold(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]

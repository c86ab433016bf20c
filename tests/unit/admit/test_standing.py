"""Where the ledger and the scheduler disagree about a node, and where they do not."""

from __future__ import annotations

import doctest

import pytest

from bringup.admit import standing
from bringup.admit.standing import disagreement, standings
from bringup.scheduler.adapter import SchedulerNode

OURS = "bringup: gpu:n1/0 gpu.ecc_uncorrected (run r1)"
IDLE = SchedulerNode("n1", "idle")
HELD = SchedulerNode("n1", "drained", True, OURS)
OPERATOR = SchedulerNode("n1", "draining", True, "hw ticket 123")
RESUMED = SchedulerNode("n1", "idle", False, OURS)  # resumed by hand: the reason stays


@pytest.mark.parametrize(
    ("state", "node", "flag"),
    [
        ("admitted", IDLE, None),
        ("admitted", RESUMED, None),
        ("admitted", HELD, f"admitted, but drained: {OURS}"),
        ("admitted", None, "admitted, but not in the scheduler"),
        ("admitted", OPERATOR, "draining by operator: hw ticket 123"),
        ("quarantined", HELD, None),
        ("quarantined", IDLE, "quarantined, but idle"),
        ("quarantined", RESUMED, "quarantined, but idle"),
        ("unreachable", IDLE, "unreachable, but idle"),
        ("quarantined", OPERATOR, "draining by operator: hw ticket 123"),
        ("validating", HELD, None),
        (None, None, None),
        (None, OPERATOR, "draining by operator: hw ticket 123"),
    ],
)
def test_disagreements(state: str | None, node: SchedulerNode | None, flag: str | None) -> None:
    assert disagreement(state, node) == flag


def test_nothing_disagrees_with_a_scheduler_not_read() -> None:
    (unread,) = standings(["n1"], [], None)
    assert (unread.disagreement, unread.scheduler_cell()) == (None, "")
    (missing,) = standings(["n1"], [], {})
    assert missing.scheduler_cell() == "not in the scheduler"
    assert missing.summary()["scheduler"] is None


def test_the_examples_in_the_docstring_hold() -> None:
    assert doctest.testmod(standing).failed == 0

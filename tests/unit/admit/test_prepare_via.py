"""`admit --via scheduler` is refused before anything starts when no scheduler can run jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bringup.access import Access
from bringup.admit.prepare import AdmitInputError, admission_request
from bringup.admit.verdict import DomainPolicy
from bringup.plan import make_plan
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY, Workspace

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab.yaml"))


def test_via_scheduler_without_a_scheduler_is_one_plain_refusal(tmp_path: Path) -> None:
    stack = Workspace(tmp_path).stack("lab")
    with pytest.raises(AdmitInputError, match=r"^--via scheduler: none .*runs no jobs"):
        admission_request(
            PLAN, stack, Access(), limit=None, policy=DomainPolicy(), dcgm_level=1,
            burn_in=True, batch=64, via="scheduler",
        )  # fmt: skip
    assert not stack.inventory.exists()  # refused before the inventory is written

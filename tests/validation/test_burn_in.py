"""Burn-in outputs: DCGM diag, NCCL bus bandwidth, nvbandwidth, ib_write_bw per HCA."""

import pytest

from bringup.validation.checks import Check, Concern
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.mark.parametrize("check", Check.of(Concern.BURN_IN), ids=str)
def test_burn_in(bringup_node: Node, check: Check) -> None:
    judge_node(check, bringup_node)

"""GPUs: count, model, memory, driver, persistence, ECC, row remap, Xids, PCIe, clocks."""

import pytest

from bringup.validation.checks import Check, Concern
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.mark.parametrize("check", Check.of(Concern.GPU), ids=str)
def test_gpu(bringup_node: Node, check: Check) -> None:
    judge_node(check, bringup_node)

"""NVLink: links active at speed, NVLink errors, fabric manager / NVLSM / IMEX, IMEX domain."""

import pytest

from bringup.validation.checks import Check, Concern
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.mark.parametrize("check", Check.of(Concern.NVLINK), ids=str)
def test_nvlink(bringup_node: Node, check: Check) -> None:
    judge_node(check, bringup_node)

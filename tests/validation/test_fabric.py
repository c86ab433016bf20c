"""NICs and cables: present, ACTIVE at rate, addressed, carrier, flaps and symbol errors."""

import pytest

from bringup.validation.checks import Check, Concern
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.mark.parametrize("check", Check.of(Concern.FABRIC), ids=str)
def test_fabric(bringup_node: Node, check: Check) -> None:
    judge_node(check, bringup_node)

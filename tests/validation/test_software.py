"""Software: packages at their pinned versions and held; the DCGM host engine running."""

import pytest

from bringup.validation.checks import Check, Concern
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.mark.parametrize("check", Check.of(Concern.SOFTWARE), ids=str)
def test_software(bringup_node: Node, check: Check) -> None:
    judge_node(check, bringup_node)

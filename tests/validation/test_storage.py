"""Storage: planned mounts present and writable; fio over the planned floors (burn-in)."""

import pytest

from bringup.validation.checks import Check, Concern
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.mark.parametrize("check", Check.of(Concern.STORAGE), ids=str)
def test_storage(bringup_node: Node, check: Check) -> None:
    judge_node(check, bringup_node)

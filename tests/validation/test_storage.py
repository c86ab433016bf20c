"""Storage: planned mounts present and writable; fio over the planned floors (burn-in)."""

import pytest

from bringup.validation.judge import burned_in
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


def test_mounts(bringup_node: Node) -> None:
    judge_node("storage.mount", bringup_node)


def test_writable(bringup_node: Node) -> None:
    judge_node("storage.writable", bringup_node)


def test_fio(bringup_node: Node) -> None:
    if bringup_node.burn_in_dir is None:
        pytest.skip("no --bringup-burn-in folder given")
    if not burned_in(bringup_node.expected):
        pytest.skip(f"{bringup_node.name}: not burned in (no GPUs)")
    judge_node("storage.fio", bringup_node)

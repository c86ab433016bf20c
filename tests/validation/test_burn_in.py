"""Burn-in outputs: DCGM diag, NCCL bus bandwidth, nvbandwidth, ib_write_bw per HCA."""

import pytest

from bringup.validation.judge import burned_in
from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.fixture(scope="module")
def node(bringup_node: Node) -> Node:
    if bringup_node.burn_in_dir is None:
        pytest.skip("no --bringup-burn-in folder given")
    if not burned_in(bringup_node.expected):
        pytest.skip(f"{bringup_node.name}: not burned in (no GPUs)")
    return bringup_node


def test_outputs(node: Node) -> None:
    judge_node("burn_in.outputs", node)


def test_dcgm_diag(node: Node) -> None:
    judge_node("burn_in.dcgm_diag", node)


def test_nccl_busbw(node: Node) -> None:
    judge_node("burn_in.nccl_busbw", node)


def test_nvbandwidth_h2d(node: Node) -> None:
    judge_node("burn_in.nvbandwidth_h2d", node)


def test_nvbandwidth_d2d(node: Node) -> None:
    judge_node("burn_in.nvbandwidth_d2d", node)


def test_ib_write_bw(node: Node) -> None:
    judge_node("burn_in.ib_write_bw", node)

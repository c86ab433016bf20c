"""NVLink: links active at speed, NVLink errors, fabric manager / NVLSM / IMEX, IMEX domain."""

import pytest

from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.fixture(scope="module")
def node(bringup_node: Node) -> Node:
    if not bringup_node.expected.nvlink.get("links_per_gpu"):
        pytest.skip(f"{bringup_node.name}: no NVLink planned")
    return bringup_node


def test_link_state(node: Node) -> None:
    judge_node("nvlink.link_state", node)


def test_speed(node: Node) -> None:
    judge_node("nvlink.speed", node)


def test_errors(node: Node) -> None:
    judge_node("nvlink.errors", node)


def test_fabric_manager(node: Node) -> None:
    judge_node("nvlink.fabric_manager", node)


def test_nvlsm(node: Node) -> None:
    judge_node("nvlink.nvlsm", node)


def test_imex(node: Node) -> None:
    judge_node("nvlink.imex", node)


def test_imex_domain(node: Node) -> None:
    judge_node("nvlink.imex_domain", node)

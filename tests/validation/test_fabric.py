"""NICs and cables: present, ACTIVE at rate, addressed, carrier, flaps and symbol errors."""

import pytest

from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.fixture(scope="module")
def node(bringup_node: Node) -> Node:
    if not bringup_node.expected.nics:
        pytest.skip(f"{bringup_node.name}: no NICs planned")
    return bringup_node


def test_present(node: Node) -> None:
    judge_node("nic.present", node)


def test_state(node: Node) -> None:
    judge_node("nic.state", node)


def test_rate(node: Node) -> None:
    judge_node("nic.rate", node)


def test_address(node: Node) -> None:
    judge_node("nic.address", node)


def test_carrier(node: Node) -> None:
    judge_node("nic.carrier", node)


def test_link_flaps(node: Node) -> None:
    judge_node("nic.link_flaps", node)


def test_symbol_errors(node: Node) -> None:
    judge_node("nic.symbol_errors", node)

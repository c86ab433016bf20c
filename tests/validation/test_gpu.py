"""GPUs: count, model, memory, driver, persistence, ECC, row remap, Xids, PCIe, clocks."""

import pytest

from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


@pytest.fixture(scope="module")
def node(bringup_node: Node) -> Node:
    if not bringup_node.expected.gpu_count:
        pytest.skip(f"{bringup_node.name}: no GPUs planned")
    return bringup_node


def test_count(node: Node) -> None:
    judge_node("gpu.count", node)


def test_model(node: Node) -> None:
    judge_node("gpu.model", node)


def test_memory(node: Node) -> None:
    judge_node("gpu.memory", node)


def test_driver(node: Node) -> None:
    judge_node("gpu.driver", node)


def test_persistence_mode(node: Node) -> None:
    judge_node("gpu.persistence_mode", node)


def test_ecc_uncorrected(node: Node) -> None:
    judge_node("gpu.ecc_uncorrected", node)


def test_ecc_sram_corrected(node: Node) -> None:
    judge_node("gpu.ecc_sram_corrected", node)


def test_row_remap(node: Node) -> None:
    judge_node("gpu.row_remap", node)


def test_xid(node: Node) -> None:
    judge_node("gpu.xid", node)


def test_pcie(node: Node) -> None:
    judge_node("gpu.pcie", node)


def test_clocks(node: Node) -> None:
    judge_node("gpu.clocks", node)

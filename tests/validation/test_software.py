"""Software: packages at their pinned versions and held; the DCGM host engine running."""

from bringup.validation.node import Node
from bringup.validation.plugin import judge_node


def test_packages(bringup_node: Node) -> None:
    judge_node("software.package", bringup_node)


def test_holds(bringup_node: Node) -> None:
    judge_node("software.hold", bringup_node)


def test_dcgm_hostengine(bringup_node: Node) -> None:
    judge_node("software.dcgm", bringup_node)

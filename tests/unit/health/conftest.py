"""Lab nodes for the health tests: the validation tests' emulated nodes (their profile, the
lab's fault functions, the emulated tools' real formats)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bringup.lab.profile import node_profile
from tests.unit.validation.conftest import PLAN, NodeCase, host_vars


@pytest.fixture
def make_case(tmp_path: Path) -> Callable[[str], NodeCase]:
    """A healthy lab node of the lab plan, by name, to break with faults."""

    def make(name: str) -> NodeCase:
        return NodeCase(tmp_path, name, node_profile(PLAN, PLAN.node(name)), host_vars(name))

    return make

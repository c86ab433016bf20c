"""Profiles for the emulator tests: one node of every SKU, generated from the example stacks.

Every SKU of the catalog has a node in the example stacks except hgx-h200 and hgx-b300; those
two come from the lab stack with its HGX H100 rack declared as that SKU.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bringup.catalog import load_catalog
from bringup.lab.profile import node_profile
from bringup.plan import make_plan
from bringup.spec import load_cluster_text

STACKS = Path(__file__).resolve().parents[4] / "stacks"
STACK_FILES = ("lab", "mixed", "b200-8su", "gb200-su", "gb300-100k", "h100-4su")
LAB_VARIANTS = ("hgx-h200", "hgx-b300")
ENV = {"BRINGUP_LAB_NOW": "2025-01-20T10:18:26"}

Profile = dict[str, Any]


def _stack_texts() -> list[str]:
    texts = [(STACKS / f"Pulumi.{name}.yaml").read_text() for name in STACK_FILES]
    lab = (STACKS / "Pulumi.lab.yaml").read_text()
    texts += [lab.replace("sku: hgx-h100", f"sku: {sku}") for sku in LAB_VARIANTS]
    return texts


@cache
def profiles_by_sku() -> dict[str, Profile]:
    """The first node of each SKU found in the example stacks, as its lab profile."""
    found: dict[str, Profile] = {}
    for text in _stack_texts():
        plan = make_plan(load_cluster_text(text))
        for node in plan.nodes:
            if node.sku not in found:
                found[node.sku] = node_profile(plan, node)
    return found


SKUS = sorted(load_catalog().skus)
GPU_SKUS = [sku for sku in SKUS if sku != "cpu"]


def profile_of(sku: str) -> Profile:
    """A fresh copy of the profile of `sku` (tests edit theirs to inject faults)."""
    return copy.deepcopy(profiles_by_sku()[sku])


@pytest.fixture(params=SKUS)
def any_profile(request: pytest.FixtureRequest) -> Profile:
    """The profile of each SKU of the catalog, the CPU node included."""
    return profile_of(request.param)


@pytest.fixture(params=GPU_SKUS)
def gpu_profile(request: pytest.FixtureRequest) -> Profile:
    """The profile of each GPU SKU of the catalog."""
    return profile_of(request.param)


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[[Profile], dict[str, str]]:
    """Write a profile to a file; returns the environment that points the tools at it."""

    def write(profile: Profile) -> dict[str, str]:
        path = tmp_path / "profile.json"
        path.write_text(json.dumps(profile))
        return {**ENV, "BRINGUP_LAB_PROFILE": str(path)}

    return write

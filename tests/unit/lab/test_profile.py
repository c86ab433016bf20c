"""The hardware profile, the contract between the plan, the emulated tools and the faults: every
node gets one of the shape bringup.lab.emulator.hardware declares, as its expectation says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bringup.lab.emulator.hardware import Profile
from bringup.lab.faults import FAULTS, Options, Target
from bringup.lab.profile import node_profile
from bringup.lab.state import NodeRecord
from bringup.plan import make_plan, node_expectation
from bringup.spec import load_cluster

from .conftest import shape_errors
from .emulator.conftest import SKUS, profile_of

PLAN = make_plan(load_cluster(Path(__file__).resolve().parents[3] / "stacks" / "Pulumi.lab.yaml"))
# the kinds that change the profile alone; the others also act on a live node's links or daemons
PROFILE_ONLY = {
    "gpu-off-bus": Options(gpu=1),
    "ecc-uncorrectable": Options(gpu=2, count=3),
    "row-remap-pending": Options(gpu=3),
    "nvlink-inactive": Options(gpu=0, link=4),
    "xid": Options(gpu=5, xid=63),
    "ib-rate": Options(value=200),
    "symbol-errors": Options(count=7),
    "low-nccl": Options(),
    "low-nvbandwidth": Options(value=90.5),
    "low-ib-write-bw": Options(),
}


@pytest.mark.parametrize("sku", SKUS)
def test_profile_has_the_declared_shape_and_survives_json(sku: str) -> None:
    profile = profile_of(sku)
    assert shape_errors(profile, Profile) == []
    assert json.loads(json.dumps(profile)) == profile


@pytest.mark.parametrize("name", [n.name for n in PLAN.nodes])
def test_profile_is_the_node_expectation(name: str) -> None:
    expected = node_expectation(PLAN, PLAN.node(name))
    profile = node_profile(PLAN, PLAN.node(name))
    assert len(profile["gpus"]) == expected.gpu_count
    assert {len(g["nvlinks"]) for g in profile["gpus"]} <= {expected.links_per_gpu}
    assert [(n["device"], n["netdev"], n["address"], n["rate_gbps"]) for n in profile["nics"]] == [
        (n.device, n.netdev, n.address, n.rate_gbps) for n in expected.nics
    ]
    assert profile["mounts"] == [m.mount for m in expected.mounts]
    assert set(profile["services"]) <= set(expected.services)
    assert profile["driver"]["version"] == (expected.software.driver if expected.software else None)


@pytest.mark.parametrize("kind", sorted(PROFILE_ONLY))
def test_a_fault_keeps_the_profile_shape(kind: str) -> None:
    profile = profile_of("hgx-h100")
    record: NodeRecord = {
        "name": "n1", "netns": "bringup-n1", "management": "10.0.0.1", "anchor": 0, "nics": []
    }  # fmt: skip
    FAULTS[kind](Target(record, profile, []), PROFILE_ONLY[kind])
    assert profile != profile_of("hgx-h100")
    assert shape_errors(profile, Profile) == []

"""`bringup up --provision` on lab nodes (marked `engine` and `root`): racks converge through
Provisioning resources, and adding a rack provisions only the new rack's nodes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bringup.infra.engine import Engine
from bringup.lab import PASSPHRASE
from bringup.lab.lab import Lab
from bringup.plan import make_plan
from bringup.spec import Cluster, parse_cluster
from bringup.workspace import Workspace

pytestmark = [pytest.mark.engine, pytest.mark.root]

LAB = Path(__file__).resolve().parents[3] / "stacks" / "Pulumi.lab.yaml"
NEW_RACK = {"sku": "hgx-h100", "count": 1, "hall": 1, "row": 1, "rack": 4, "units": 1}


def _cluster(grown: bool) -> Cluster:
    data: dict[str, Any] = copy.deepcopy(
        yaml.safe_load(LAB.read_text())["config"]["bringup:cluster"]
    )
    base = [{**data["racks"][0], "units": 1}, data["racks"][2]]  # one H100 node, one CPU node
    data["racks"] = [*base, NEW_RACK] if grown else base
    return parse_cluster(data)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("project")
    lab = Lab(Workspace(root), "lab")
    lab.down()
    lab.up(make_plan(_cluster(grown=True)))  # the new rack's node is racked, not yet declared
    yield root
    lab.down()


def _engine(project: Path) -> Engine:
    workspace = Workspace(project)
    access = Lab(workspace, "lab").access()
    return Engine(workspace, provision=True, access=access, default_passphrase=PASSPHRASE)


def _ops(steps: dict[str, str], op: str) -> set[str]:
    return {name for name, o in steps.items() if o == op}


def test_up_provisions_every_rack(project: Path) -> None:
    outcome = _engine(project).up("lab", _cluster(grown=False))
    provisioned = {n for n in _ops(outcome.steps, "create") if n.endswith("-provisioning")}
    assert provisioned == {"lab-lab-h1-r01-k01-provisioning", "lab-lab-h1-r01-k03-provisioning"}


def test_adding_a_rack_provisions_only_its_nodes(project: Path) -> None:
    outcome = _engine(project).up("lab", _cluster(grown=True))
    new = "lab-lab-h1-r01-k04"
    assert _ops(outcome.steps, "create") == {new, f"{new}-host-vars", f"{new}-provisioning"}
    assert not [n for n in _ops(outcome.steps, "update") if n.endswith("-provisioning")]


def test_a_second_up_converges_nothing(project: Path) -> None:
    outcome = _engine(project).up("lab", _cluster(grown=True))
    assert set(outcome.summary) == {"same"}

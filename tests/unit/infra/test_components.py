"""The component tree under Pulumi mocks: names, parents, types, inputs and outputs."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from bringup.access import Access
from bringup.infra.components import AdmitSettings, Cluster, ClusterArgs, Deployment
from bringup.infra.program import registered
from bringup.plan import Plan, make_plan
from bringup.render import render_cluster_files, render_rack_files
from bringup.spec import load_cluster
from bringup.workspace import Workspace

STACKS = Path(__file__).resolve().parents[3] / "stacks"
FILES = "pulumi-python:dynamic/bringup:RenderedFiles"


class ParentMonitor(MockMonitor):
    """The mock monitor, also noting each resource's parent by name."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.parents: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        self.parents[request.name] = request.parent.rsplit("::", 1)[-1] if request.parent else ""
        return super().RegisterResource(request)


class Recorder(pulumi.runtime.Mocks):
    """Records every registered resource; returns its inputs as its state."""

    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []
        self.monitor = ParentMonitor(self)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


@pytest.fixture
def mocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.setenv("BRINGUP_ROOT", str(tmp_path))
    recorder = Recorder()
    pulumi.runtime.set_mocks(
        recorder, project="bringup", stack="lab", preview=False, monitor=recorder.monitor
    )
    return recorder


def _deploy(
    plan: Plan,
    provision: bool = False,
    admit: AdmitSettings | None = None,
    munge_key: str | None = None,
) -> Cluster:
    """Declare the tree and wait until every registration reached the mocks."""
    made: list[Cluster] = []

    deployment = Deployment(Workspace.here().stack("lab"), Access(private_key=Path("/k")))

    @pulumi.runtime.test
    def declare() -> None:
        key = None if munge_key is None else pulumi.Output.secret(munge_key)
        args = ClusterArgs(plan, deployment, provision, admit, munge_key=key)
        made.append(Cluster("lab", args))

    declare()
    return made[0]


PLAN = make_plan(load_cluster(STACKS / "Pulumi.lab.yaml"))


def test_tree_of_the_lab_stack(mocks: Recorder) -> None:
    plan = PLAN
    _deploy(plan)
    by_name = {r.name: r for r in mocks.registered}
    types = {name: r.typ for name, r in by_name.items()}
    assert types["lab"] == "bringup:index:Cluster"
    planes = [f"lab-{fp.name}-p{p}" for fp in plan.fabrics for p in fp.planes]
    racks = [f"lab-{r.name}" for r in plan.racks]
    assert all(types[n] == "bringup:index:FabricPlane" for n in planes)
    assert all(types[n] == "bringup:index:Rack" for n in racks)
    assert all(types[f"{n}-host-vars"] == FILES for n in racks)
    assert types["lab-shared"] == "bringup:index:StorageSystem"
    assert types["lab-lab-h1-r01-k02-nvl1"] == "bringup:index:NVLinkDomain"
    for role in ("hosts", "group-vars", "cabling", "topology", "bom", "slurm"):
        assert types[f"lab-{role}"] == FILES
    # exactly these resources: no per-node, per-GPU or per-cable resource
    expected = 1 + len(planes) + 2 * len(racks) + 1 + 1 + 6
    assert len(by_name) == expected
    parents = mocks.monitor.parents
    assert parents["lab"] == "bringup-lab"  # the stack resource
    assert {parents[n] for n in planes + racks + ["lab-shared"]} == {"lab"}
    assert parents["lab-lab-h1-r01-k02-nvl1"] == "lab-lab-h1-r01-k02"
    assert all(parents[f"{n}-host-vars"] == n for n in racks)
    assert all(parents[f"lab-{role}"] == "lab" for role in ("hosts", "cabling", "bom"))


def test_a_kubernetes_cluster_has_no_slurm_files(mocks: Recorder) -> None:
    _deploy(make_plan(load_cluster(STACKS / "Pulumi.mixed.yaml")))
    files = {r.name: r.inputs["files"] for r in mocks.registered if r.typ == FILES}
    assert {"lab-hosts", "lab-topology"} <= set(files)
    assert "lab-slurm" not in files
    assert set(files["lab-kubernetes"]) == {"kubernetes/topology.yaml"}  # its Kueue Topology


def test_rendered_files_carry_hashes_of_the_rendered_text(mocks: Recorder) -> None:
    plan = PLAN
    _deploy(plan)
    inputs = {r.name: r.inputs for r in mocks.registered if r.typ == FILES}
    rack = plan.racks[0].name
    rendered = render_rack_files(plan, "lab", rack)
    host_vars = inputs[f"lab-{rack}-host-vars"]
    assert host_vars["dir"] == "inventory/lab"
    assert host_vars["identity"] == f"{rack}:{plan.racks[0].sku}"
    assert host_vars["files"] == {
        rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in rendered.items()
    }
    cluster_files = render_cluster_files(plan, "lab")
    assert set(inputs["lab-hosts"]["files"]) == {"hosts.yml"}
    assert set(inputs["lab-group-vars"]["files"]) == {
        r for r in cluster_files if r.startswith("group_vars/")
    }
    every = set().union(*(set(i["files"]) for i in inputs.values()))
    assert every == set(cluster_files) | {
        r for rk in plan.racks for r in render_rack_files(plan, "lab", rk.name)
    }


def test_cluster_outputs(mocks: Recorder) -> None:
    plan = PLAN
    root = _deploy(plan)
    assert root.nodes == len(plan.nodes) == 21
    assert root.gpus == 88
    assert root.inventory == "inventory/lab/hosts.yml"
    compute = plan.fabric("compute")
    assert root.switches["compute-p1"] == {
        "leaf": compute.leaves(),
        "spine": compute.spines(),
        "core": 0,
    }
    assert set(root.switches) == {f"{fp.name}-p{p}" for fp in plan.fabrics for p in fp.planes}


def test_a_munge_key_is_one_resource_under_the_cluster_writing_the_stacks_key_file(
    mocks: Recorder,
) -> None:
    root = _deploy(PLAN, munge_key="a2V5")
    keys = [r for r in mocks.registered if r.typ == "pulumi-python:dynamic/bringup:MungeKey"]
    assert [(r.name, r.inputs["path"]) for r in keys] == [
        ("lab-munge-key", ".state/secrets/lab/munge.key")
    ]
    assert mocks.monitor.parents["lab-munge-key"] == "lab"
    assert root.munge_key == ".state/secrets/lab/munge.key"


def test_no_munge_key_unless_the_stack_has_one(mocks: Recorder) -> None:
    root = _deploy(PLAN)
    assert not any(r.typ.endswith(":MungeKey") for r in mocks.registered)
    assert root.munge_key is None


def test_provisioning_is_one_resource_per_rack_after_its_files(mocks: Recorder) -> None:
    _deploy(PLAN, provision=True)
    provisioning = {
        r.name: r.inputs for r in mocks.registered if r.typ.endswith("bringup:Provisioning")
    }
    racks = [r.name for r in PLAN.racks]
    assert set(provisioning) == {f"lab-{name}-provisioning" for name in racks}
    for name in racks:
        inputs = provisioning[f"lab-{name}-provisioning"]
        assert inputs["hosts"] == [n.name for n in PLAN.nodes if n.rack == name]
        assert inputs["playbook"] == "playbooks/provision.yml"
        assert mocks.monitor.parents[f"lab-{name}-provisioning"] == f"lab-{name}"
    hashes = [i["vars_hash"] for i in provisioning.values()]
    assert len(set(hashes)) == len(hashes)  # each rack's variables are its own


def test_no_provisioning_unless_asked(mocks: Recorder) -> None:
    _deploy(PLAN)
    assert not [r for r in mocks.registered if r.typ.endswith("bringup:Provisioning")]


def test_admission_is_one_resource_per_rack_after_its_provisioning(mocks: Recorder) -> None:
    repairs = {"lab-h1-r01-k02-t03": "2026-12-01T10:00:00Z#4", "lab-h1-r01-k01-n1": "x#1"}
    _deploy(PLAN, admit=AdmitSettings("quorum:16", 2, "suite-hash", repairs))
    admission = {r.name: r.inputs for r in mocks.registered if r.typ.endswith("bringup:Admission")}
    kinds = {r.name for r in mocks.registered if r.typ.endswith("bringup:Provisioning")}
    racks = [r.name for r in PLAN.racks]
    assert set(admission) == {f"lab-{name}-admission" for name in racks}
    assert kinds == {f"lab-{name}-provisioning" for name in racks}  # admitting provisions too
    nvl72 = next(r for r in PLAN.racks if r.sku == "gb200-nvl72")
    inputs = admission[f"lab-{nvl72.name}-admission"]
    trays = [n.name for n in PLAN.nodes if n.rack == nvl72.name]
    assert inputs["hosts"] == trays
    assert list(inputs["domains"].values()) == [trays]
    assert (inputs["policy"], inputs["dcgm_level"], inputs["suite_hash"]) == (
        "quorum:16",
        2,
        "suite-hash",
    )
    assert inputs["repairs"] == {"lab-h1-r01-k02-t03": "2026-12-01T10:00:00Z#4"}  # its own
    assert mocks.monitor.parents[f"lab-{nvl72.name}-admission"] == f"lab-{nvl72.name}"


def test_the_program_waits_for_the_registration_of_every_resource_it_declared(
    mocks: Recorder,
) -> None:
    """`registered` returns once the engine (here the mocks) has answered every resource of the
    tree, and the tree's `declared` lists every one of them: none is left to the SDK's wait."""
    seen: list[set[str]] = []
    declared: list[str] = []
    deployment = Deployment(Workspace.here().stack("lab"), Access(private_key=Path("/k")))

    @pulumi.runtime.test
    def declare() -> Awaitable[None]:
        args = ClusterArgs(
            PLAN, deployment, True, AdmitSettings(), munge_key=pulumi.Output.secret("a2V5")
        )
        root = Cluster("lab", args)
        declared.extend(r.pulumi_resource_name for r in root.declared)

        async def then() -> None:
            assert not mocks.monitor.parents  # nothing has reached the engine yet
            await registered(root.declared)
            seen.append(set(mocks.monitor.parents))

        return then()

    declare()
    assert len(declared) == len(set(declared))
    assert seen == [set(declared)] == [set(mocks.monitor.parents)]
    assert {"lab", "lab-munge-key", "lab-hosts", f"lab-{PLAN.racks[0].name}-admission"} <= seen[0]

"""The Kubernetes adapter against a real kube-apiserver and etcd (marked `kubernetes`: the ones
scripts/build-kubernetes builds), started as the lab starts them, with the lab's nodes registered
as their kubelets would: the pending taint on a fresh node, admission's release and condition, a
quarantine's taint, cordon and condition, an operator's cordon and taint never lifted, labels equal
to the plan, and the watch of the in-service loop quarantining through the same adapter."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bringup.admit.ledger import Ledger
from bringup.health.breaker import BreakerSettings, Fleet
from bringup.health.verdict import Action, HealthFinding, HealthVerdict, Severity, Trigger
from bringup.health.watch import Watch
from bringup.lab.kubernetes import PENDING_TAINT, LabKubernetes, Ports
from bringup.lab.system import LabError
from bringup.plan import make_plan
from bringup.plan.expectation import management_address
from bringup.plan.scheduler import kubernetes_labels
from bringup.render.kubernetes import render_kubernetes_files
from bringup.report.sources import read_scheduler
from bringup.scheduler import kubernetes
from bringup.scheduler.kubernetes import (
    CONDITION,
    PENDING,
    QUARANTINE,
    KubernetesScheduler,
    condition_of,
)
from bringup.spec import load_cluster
from bringup.validation.report import Finding
from bringup.workspace import REPOSITORY, Workspace

pytestmark = pytest.mark.kubernetes

PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / "Pulumi.lab-k8s.yaml"))
NAMES = [n.name for n in PLAN.nodes]
HGX1, HGX2 = NAMES[:2]
TRAY = NAMES[2]
ADDRESSES = {n.name: management_address(PLAN, n) or "" for n in PLAN.nodes}


class Cluster:
    """A control plane, the lab's nodes registered in it, and the two users of its kubeconfig."""

    def __init__(self, control: LabKubernetes) -> None:
        self.control = control
        self.bringup = KubernetesScheduler.for_kubeconfig(control.kubeconfig, "bringup")
        self.operator = KubernetesScheduler.for_kubeconfig(control.kubeconfig, "operator")

    def node(self, name: str) -> dict:
        return self.bringup.read([name])[name]

    def taints(self, name: str) -> dict[str, str]:
        return {t["key"]: t.get("value", "") for t in self.node(name)["spec"].get("taints", [])}

    def condition(self, name: str) -> tuple[str, str, str] | None:
        found = condition_of(self.node(name))
        return None if found is None else (found["status"], found["reason"], found["message"])

    def cordoned(self, name: str) -> bool:
        return bool(self.node(name)["spec"].get("unschedulable"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    project = Path(tempfile.mkdtemp(prefix="bringup-kube-", dir="/var/tmp"))
    lab = project / ".lab" / "lab-k8s"
    control = LabKubernetes(
        lab / "kubernetes", lab / "kubeconfig", Workspace(REPOSITORY).kubernetes, Ports.free()
    )
    try:
        control.start()
        assert sorted(control.register(PLAN, ADDRESSES)) == sorted(NAMES)
        yield Cluster(control)
    finally:
        control.stop()
        shutil.rmtree(project, ignore_errors=True)


def test_a_fresh_node_carries_the_pending_taint_and_is_held_by_bringup(cluster: Cluster) -> None:
    assert cluster.taints(TRAY) == {PENDING_TAINT: ""}
    assert PENDING_TAINT == PENDING
    [read] = cluster.bringup.nodes([TRAY]).values()
    assert (read.state, read.owned, read.reason) == ("pending", True, "bringup: validation pending")
    # registering again leaves the node as it is
    assert cluster.control.register(PLAN, {TRAY: ADDRESSES[TRAY]}) == []


def test_admission_lifts_the_taint_and_says_so_in_the_condition(cluster: Cluster) -> None:
    held = cluster.bringup.hold({"bringup: validation pending (run r1)": [HGX1]})
    assert held.outcomes[HGX1].outcome == "held"
    assert cluster.condition(HGX1) == (
        "Unknown",
        "ValidationPending",
        "validation pending (run r1)",
    )
    released = cluster.bringup.release([HGX1])
    assert released.outcomes[HGX1].outcome == "released"
    assert cluster.taints(HGX1) == {}
    assert cluster.condition(HGX1)[:2] == ("True", "Admitted")
    assert not cluster.cordoned(HGX1)
    assert cluster.bringup.nodes([HGX1])[HGX1].state == "ready"


def test_a_faulted_node_is_quarantined_naming_its_component(cluster: Cluster) -> None:
    reason = f"bringup: gpu:{HGX2}/2 gpu.ecc_uncorrected (run r2)"
    result = cluster.bringup.hold({reason: [HGX2]})
    assert result.outcomes[HGX2].outcome == "held"
    assert cluster.taints(HGX2) == {QUARANTINE: "gpu.ecc_uncorrected"}
    status, why, message = cluster.condition(HGX2)
    assert (status, why) == ("False", "GpuEccUncorrected")
    assert message.startswith(f"gpu:{HGX2}/2 gpu.ecc_uncorrected")
    assert cluster.cordoned(HGX2)
    # repaired and admitted: bringup's own cordon goes with its taint
    cluster.bringup.release([HGX2])
    assert (cluster.taints(HGX2), cluster.cordoned(HGX2)) == ({}, False)


def test_a_node_cordoned_by_someone_else_stays_cordoned(cluster: Cluster) -> None:
    node = NAMES[3]
    ticket = {"key": "example.com/ticket", "value": "4711", "effect": "NoSchedule"}
    taints = [*cluster.node(node)["spec"]["taints"], ticket]
    cluster.operator.patch(node, {"spec": {"unschedulable": True, "taints": taints}})
    reason = f"bringup: nic:{node}/mlx5_0 nic.state (incident 7)"
    assert cluster.bringup.hold({reason: [node]}).outcomes[node].outcome == "held"
    assert cluster.taints(node) == {QUARANTINE: "nic.state", "example.com/ticket": "4711"}
    released = cluster.bringup.release([node])
    assert released.outcomes[node].outcome == "kept"
    assert (
        released.outcomes[node].describe() == "kept cordoned by operator: cordoned by someone else"
    )
    assert cluster.cordoned(node)
    assert cluster.taints(node) == {"example.com/ticket": "4711"}


def test_many_nodes_are_read_a_page_at_a_time_as_one_by_one(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_by_one = cluster.bringup.read(NAMES)
    monkeypatch.setattr(kubernetes, "GET_LIMIT", 3)
    monkeypatch.setattr(kubernetes, "PAGE", 4)  # 21 nodes: six pages, five continue tokens
    paged = cluster.bringup.read([*NAMES[:-1], "not-a-node"])
    assert sorted(paged) == sorted(NAMES[:-1])
    assert all(paged[n]["metadata"]["uid"] == one_by_one[n]["metadata"]["uid"] for n in paged)


def test_labels_equal_the_plan(cluster: Cluster) -> None:
    plan_labels = {n.name: kubernetes_labels(PLAN, n) for n in PLAN.nodes}
    # a label bringup no longer plans goes; someone else's stays
    cluster.operator.patch(TRAY, {"metadata": {"labels": {"bringup.dev/old": "x", "team": "ml"}}})
    assert cluster.bringup.label(plan_labels) == [TRAY]
    assert cluster.bringup.label(plan_labels) == []
    for name in NAMES:
        labels = cluster.node(name)["metadata"]["labels"]
        mine = {k: v for k, v in labels.items() if k in plan_labels[name] or "bringup.dev/" in k}
        assert mine == plan_labels[name], name
    assert cluster.node(TRAY)["metadata"]["labels"]["team"] == "ml"


def test_kueue_accepts_the_rendered_topology_whose_levels_every_node_carries(
    cluster: Cluster,
) -> None:
    rendered = render_kubernetes_files(PLAN, "lab-k8s")["topology.yaml"]
    created = cluster.control.install_kueue(rendered)
    assert created[0] == f"Topology/{PLAN.cluster.name}"
    assert sorted(created[1:]) == [
        f"ResourceFlavor/{s}" for s in sorted({n.sku for n in PLAN.nodes})
    ]
    path = f"/apis/kueue.x-k8s.io/v1beta2/topologies/{PLAN.cluster.name}"
    status, topology = cluster.bringup.request("GET", path)
    assert status == 200
    levels = [level["nodeLabel"] for level in topology["spec"]["levels"]]
    assert levels == ["bringup.dev/su", "bringup.dev/rack", "kubernetes.io/hostname"]
    for name in NAMES:
        labels = cluster.node(name)["metadata"]["labels"]
        assert all(labels.get(level) for level in levels), (name, labels)
    # the API server holds it to Kueue's schema: a level that is no label is refused
    broken = rendered.replace(f'name: "{PLAN.cluster.name}"', 'name: "broken"', 1).replace(
        "kubernetes.io/hostname", "not a label"
    )
    with pytest.raises(LabError, match=r"spec\.levels"):
        cluster.control.install_kueue(broken)


def test_the_watch_quarantines_a_failing_node_through_the_adapter(
    cluster: Cluster, tmp_path: Path
) -> None:
    node = NAMES[4]
    ledger_path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path=ledger_path) as ledger:
        run = ledger.start_run("lab-k8s", [node], {})
        ledger.record_state("lab-k8s", node, "provisioned", run_id=run.id)
        ledger.record_state("lab-k8s", node, "validating", run_id=run.id)
        ledger.record_verdict(run.id, "lab-k8s", node, "admitted", [])
        ledger.finish_run(run.id)
    cluster.bringup.release([node])

    def opener() -> AbstractContextManager[Ledger]:
        return Ledger.open(path=ledger_path)

    watch = Watch(
        "lab-k8s", Fleet.from_plan(PLAN), ADDRESSES, opener, cluster.bringup,
        tmp_path / "incidents", BreakerSettings(), jobs=cluster.bringup.pods_on,
    )  # fmt: skip
    lost = Finding(f"gpu:{node}/5", "gpu.count", "lost (fallen off the bus)", "visible")
    verdict = HealthVerdict(
        node=node,
        trigger=Trigger.CLI,
        observed_at=datetime.now(UTC),
        duration_s=0.4,
        checks=("gpu.count",),
        findings=(HealthFinding(lost, Severity.CRITICAL, Action.REBOOT),),
        evidence={},
    )
    # a job's pod on the node, bound there as the scheduler would (no scheduler runs here)
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
    assert (
        cluster.operator.request(
            "POST", "/api/v1/namespaces/default/serviceaccounts", body=account
        )[0]
        == 201
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "train-0"},
        "spec": {"nodeName": node, "containers": [{"name": "train", "image": "trainer:1"}]},
    }
    assert cluster.operator.request("POST", "/api/v1/namespaces/default/pods", body=pod)[0] == 201
    decision = watch.receive(verdict)
    assert decision.action == "drained"
    assert cluster.taints(node) == {QUARANTINE: "gpu.count"}
    status, why, message = cluster.condition(node)
    assert (status, why) == ("False", "GpuCount")
    assert message == f"gpu:{node}/5 gpu.count (incident {decision.incident})"
    assert cluster.cordoned(node)
    assert CONDITION == "bringup.dev/Validated"
    with Ledger.open(path=ledger_path) as ledger:
        [incident] = ledger.incidents("lab-k8s", node=node)
    assert [(j["id"], j["user"]) for j in incident.jobs] == [("default/train-0", "default")]
    # the report reads the same view
    read = read_scheduler(cluster.bringup, [node])
    assert (
        read.describe(node)
        == f"quarantined: bringup: gpu:{node}/5 gpu.count (incident {decision.incident})"
    )

"""Admission drives the lab's real Kubernetes API server (marked `root` and `kubernetes`): a node
registers with the pending taint, an admitted verdict lifts it and sets bringup's condition, a
faulted node is quarantined with its component in the condition, an operator's cordon survives,
and the labels are the plan's.

One lab of the two HGX H100 nodes and the first NVL72 tray of the `lab-k8s` stack, provisioned
once, its nodes registered as Nodes by `lab up`. The stack leaves IMEX to NVIDIA's DRA driver: the
tray's own nvidia-imex is stopped, and the suite admits it so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import yaml

from bringup.admit.admission import AdmissionRequest, AdmissionResult, admit
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy
from bringup.lab.faults import Options
from bringup.lab.lab import Lab
from bringup.lab.system import in_node
from bringup.plan import make_plan
from bringup.plan.scheduler import kubernetes_labels
from bringup.provision.inventory import write_inventory
from bringup.scheduler.kubernetes import CONDITION, PENDING, QUARANTINE, KubernetesScheduler
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY
from tests.unit.admit.provisioned import provisioned_lab

pytestmark = [pytest.mark.root, pytest.mark.kubernetes]

STACK = "lab-k8s"
PLAN = make_plan(load_cluster(REPOSITORY / "stacks" / f"Pulumi.{STACK}.yaml"))
HGX1, HGX2, TRAY = (n.name for n in PLAN.nodes[:3])
HOSTS = [HGX1, HGX2, TRAY]


class Site:
    """The lab of two nodes, its ledger, and its API server as bringup and an operator see it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.stack = lab.workspace.stack(STACK)
        self.inventory = write_inventory(PLAN, self.stack)
        self.ledger = lab.workspace.root / "ledger.sqlite3"
        self.api = KubernetesScheduler.for_kubeconfig(lab.kubeconfig, "bringup")
        self.operator = KubernetesScheduler.for_kubeconfig(lab.kubeconfig, "operator")

    def admit(self) -> AdmissionResult:
        request = AdmissionRequest(
            stack=STACK,
            hosts=tuple(HOSTS),
            inventory=self.inventory,
            work=self.stack.admission,
            policy=DomainPolicy.parse("unit"),
            dcgm_level=1,
            access=self.lab.access(),
        )
        with Ledger.open(path=self.ledger) as opened:
            return admit(request, opened)

    def view(self, name: str) -> tuple[dict[str, str], bool, tuple[str, str, str] | None]:
        """A node's taints (key: value), cordon and bringup's condition (status, reason,
        message)."""
        node = self.api.read([name])[name]
        taints = {t["key"]: t.get("value", "") for t in node["spec"].get("taints", [])}
        found = [c for c in node["status"]["conditions"] if c["type"] == CONDITION]
        condition = (found[0]["status"], found[0]["reason"], found[0]["message"]) if found else None
        return taints, bool(node["spec"].get("unschedulable")), condition


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with provisioned_lab(STACK, PLAN, HOSTS) as lab:
        yield Site(lab)


def test_the_lab_s_access_names_its_api_server(site: Site) -> None:
    scheduler = site.lab.access().scheduler
    assert (scheduler.adapter, scheduler.context) == ("kubernetes", "bringup")
    assert scheduler.env == {"KUBECONFIG": str(site.lab.kubeconfig.absolute())}


def test_each_node_registers_held_through_its_kubelet_s_drop_in(site: Site) -> None:
    anchor = site.lab.node_record(HGX1)["anchor"]
    text = in_node(anchor, ["cat", "/etc/kubernetes/kubelet.conf.d/50-bringup.conf"])
    config = yaml.safe_load(text)
    assert config["kind"] == "KubeletConfiguration"
    assert config["registerWithTaints"] == [{"key": PENDING, "value": "", "effect": "NoSchedule"}]


def test_the_tray_leaves_imex_to_the_dra_driver(site: Site) -> None:
    anchor = site.lab.node_record(TRAY)["anchor"]
    enter = ["nsenter", "-t", str(anchor), "-n", "-m", "-u", "-r", "-w"]
    status = subprocess.run([*enter, "/etc/init.d/nvidia-imex", "status"], check=False)
    assert status.returncode == 3  # LSB: not running
    # not started at boot either
    assert not any(
        "nvidia-imex" in n and n.startswith("S")
        for n in in_node(anchor, ["ls", "/etc/rc2.d"]).split()
    )
    # no configuration of the host's: the driver's daemons bring their own
    listed = in_node(anchor, ["ls", "/etc/nvidia-imex"], check=False)
    assert "nodes_config.cfg" not in listed


def test_admission_lifts_the_pending_taint_and_sets_the_condition(site: Site) -> None:
    assert site.view(HGX1) == ({PENDING: ""}, False, None)
    result = site.admit()
    assert result.with_verdict("admitted") == HOSTS
    assert result.scheduler.error is None
    for host in HOSTS:
        taints, cordoned, condition = site.view(host)
        assert (taints, cordoned) == ({}, False)
        assert condition is not None
        assert condition[:2] == ("True", "Admitted")


def test_labels_equal_the_plan(site: Site) -> None:
    for host in HOSTS:
        labels = site.api.read([host])[host]["metadata"]["labels"]
        planned = kubernetes_labels(PLAN, PLAN.node(host))
        assert {k: labels.get(k) for k in planned} == planned
        assert {k for k in labels if k.startswith("bringup.dev/")} == {
            k for k in planned if k.startswith("bringup.dev/")
        }


def test_a_faulted_node_is_quarantined_naming_its_component(site: Site) -> None:
    site.lab.fault(HGX2, "ecc-uncorrectable", Options(gpu=2))
    try:
        result = site.admit()
    finally:
        site.lab.heal(HGX2)
    assert result.with_verdict("quarantined") == [HGX2]
    taints, cordoned, condition = site.view(HGX2)
    assert taints == {QUARANTINE: "gpu.ecc_uncorrected"}
    assert cordoned
    assert condition is not None
    status, reason, message = condition
    assert (status, reason) == ("False", "GpuEccUncorrected")
    assert message.startswith(f"gpu:{HGX2}/2 gpu.ecc_uncorrected")
    assert f"(run {result.run_id})" in message
    assert site.view(HGX1)[:2] == ({}, False)
    assert site.view(TRAY)[:2] == ({}, False)
    # repaired: the next admission lifts the quarantine, taint and cordon
    with Ledger.open(path=site.ledger) as opened:
        opened.mark_repaired(STACK, HGX2, "GPU 2 swapped")
    assert site.admit().verdicts[HGX2].verdict == "admitted"
    assert site.view(HGX2)[:2] == ({}, False)


def test_an_operator_s_cordon_survives_admission(site: Site) -> None:
    site.operator.patch(HGX1, {"spec": {"unschedulable": True}})
    try:
        result = site.admit()
        assert result.verdicts[HGX1].verdict == "admitted"
        assert result.scheduler.outcomes[HGX1].outcome == "kept"
        taints, cordoned, _ = site.view(HGX1)
        assert (taints, cordoned) == ({}, True)
    finally:
        site.operator.patch(HGX1, {"spec": {"unschedulable": False}})

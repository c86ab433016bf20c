"""How bringup reaches a stack's nodes and its scheduler: produced from the declaration, JSON
across processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bringup.access import Access, SchedulerAccess, stack_access
from bringup.spec import AccessSpec, Scheduler, SpecError, parse_cluster
from bringup.workspace import SlurmInstall, Workspace

LAB = {
    "name": "demo",
    "site": {"name": "s"},
    "racks": [{"sku": "cpu", "count": 1, "hall": 1, "row": 1, "rack": 1, "units": 1}],
}


def test_a_site_declaration_gives_its_settings_relative_to_the_project(tmp_path: Path) -> None:
    declared = AccessSpec(user="ops", private_key="keys/id", known_hosts="/etc/ssh/kh")
    access = stack_access(Workspace(tmp_path), "demo", declared)
    assert (access.source, access.user) == ("ssh", "ops")
    assert access.private_key == tmp_path / "keys" / "id"
    assert access.known_hosts == Path("/etc/ssh/kh")
    assert access.far_end == "none"
    env = access.ansible_env()
    assert env["ANSIBLE_PRIVATE_KEY_FILE"] == str(tmp_path / "keys" / "id")
    assert "-o StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_ARGS"]
    assert "-o UserKnownHostsFile=/etc/ssh/kh" in env["ANSIBLE_SSH_ARGS"]


def test_a_lab_declaration_gives_the_labs_own_access(tmp_path: Path) -> None:
    access = stack_access(Workspace(tmp_path), "lab", AccessSpec(via="lab"))
    assert (access.source, access.far_end) == ("lab", "lab")
    assert access.private_key is not None
    assert access.private_key.is_relative_to(tmp_path / ".lab" / "lab")
    assert "storage_client_tmpfs_override" in access.extra_vars


def test_nothing_declared_leaves_ansibles_own_ssh_configuration(tmp_path: Path) -> None:
    access = stack_access(Workspace(tmp_path), "demo", AccessSpec())
    assert access == Access()
    assert "ANSIBLE_PRIVATE_KEY_FILE" not in access.ansible_env()


def test_access_crosses_a_process_boundary_unchanged() -> None:
    access = Access(
        source="lab", private_key=Path("/k"), extra_vars={"a": [1, {"b": None}]}, far_end="lab"
    )
    assert Access.from_json(access.to_json()) == access


def test_the_lab_takes_no_settings_of_a_site() -> None:
    with pytest.raises(SpecError, match=r"access\.private_key: the lab gives its own settings"):
        parse_cluster({**LAB, "access": {"via": "lab", "private_key": "k"}})
    assert parse_cluster({**LAB, "access": {"via": "lab"}}).access.via == "lab"


def test_a_site_reaches_its_declared_scheduler_with_the_systems_tools(tmp_path: Path) -> None:
    slurm = stack_access(Workspace(tmp_path), "demo", AccessSpec(), Scheduler(kind="slurm"))
    assert slurm.scheduler == SchedulerAccess(adapter="slurm")  # PATH, its own SLURM_CONF
    kubernetes = stack_access(
        Workspace(tmp_path), "demo", AccessSpec(), Scheduler(kind="kubernetes")
    )
    # the kubeconfig kubectl would read (KUBECONFIG, else ~/.kube/config), its current context
    assert kubernetes.scheduler == SchedulerAccess(adapter="kubernetes")


def test_the_lab_gives_its_own_scheduler_whatever_the_declaration(tmp_path: Path) -> None:
    lab = AccessSpec(via="lab")
    declared = stack_access(Workspace(tmp_path), "lab", lab, Scheduler(kind="kubernetes"))
    assert declared == stack_access(Workspace(tmp_path), "lab", lab)


def test_a_staged_slurm_gives_its_tools_and_nothing_else_of_this_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRINGUP_LEDGER_URL", "postgresql://bringup:secret@db/ledger")
    install = SlurmInstall(tmp_path / ".tools")
    access = SchedulerAccess.slurm(tmp_path / "slurm.conf", install)
    assert access.adapter == "slurm"
    assert access.bin_dir == install.root / "usr" / "bin"
    assert access.env == {
        "LD_LIBRARY_PATH": install.env()["LD_LIBRARY_PATH"],
        "SLURM_CONF": str(tmp_path / "slurm.conf"),
    }
    assert SchedulerAccess.slurm().env == {}


def test_the_scheduler_crosses_a_process_boundary_with_its_access() -> None:
    access = Access(
        scheduler=SchedulerAccess(adapter="slurm", env={"SLURM_CONF": "/c"}, bin_dir=Path("/b"))
    )
    assert Access.from_json(access.to_json()) == access

"""Every path of a project and its stacks, from one Workspace; stack names checked once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bringup.errors import BringupError
from bringup.workspace import REPOSITORY, Workspace, WorkspaceError, check_stack_name


def test_paths_of_a_project_and_a_stack(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    stack = ws.stack("gb200-su")
    assert stack.inventory == tmp_path / "inventory" / "gb200-su"
    assert stack.inventory_dir == "inventory/gb200-su"
    assert stack.hosts_file == tmp_path / "inventory" / "gb200-su" / "hosts.yml"
    assert stack.engine == tmp_path / ".state" / "workspace" / "gb200-su"
    assert stack.runs == tmp_path / ".state" / "runs" / "gb200-su"
    assert stack.admission == tmp_path / ".state" / "admission" / "gb200-su"
    assert ws.ledger == tmp_path / ".state" / "ledger.sqlite3"
    assert stack.artifacts == tmp_path / ".state" / "artifacts" / "gb200-su"
    assert stack.artifacts_dir == ".state/artifacts/gb200-su"
    assert ws.logs == tmp_path / ".state" / "logs"
    assert ws.stack_file("lab") == tmp_path / "stacks" / "Pulumi.lab.yaml"
    assert ws.repository == REPOSITORY
    assert (REPOSITORY / "roles").is_dir()


@pytest.mark.parametrize(
    "name",
    ["../x/rel.yaml", "/abs/path.yaml", "..", ".", "", "a/b", "a b", "-lab", "lab\n", "x" * 101],
)
def test_a_stack_name_that_is_a_path_is_refused_naming_it(name: str, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as error:
        Workspace(tmp_path).stack(name)
    assert isinstance(error.value, BringupError)
    assert repr(name) in str(error.value)
    assert len(error.value.lines()) == 1


@pytest.mark.parametrize("name", ["lab", "gb300-100k", "Site_1.prod", "a"])
def test_plain_names_pass(name: str) -> None:
    assert check_stack_name(name) == name


def test_here_follows_the_root_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRINGUP_ROOT", str(tmp_path))
    assert Workspace.here().root == tmp_path
    monkeypatch.delenv("BRINGUP_ROOT")
    monkeypatch.chdir(tmp_path)
    assert Workspace.here().root == tmp_path


def test_digest_follows_content_and_ignores_bytecode(tmp_path: Path) -> None:
    (tmp_path / "roles" / "a").mkdir(parents=True)
    (tmp_path / "roles" / "a" / "main.yml").write_text("x")
    ws = Workspace(tmp_path, repository=tmp_path)
    before = ws.digest("roles")
    (tmp_path / "roles" / "a" / "__pycache__").mkdir()
    (tmp_path / "roles" / "a" / "__pycache__" / "m.pyc").write_bytes(b"\0")
    assert ws.digest("roles") == before
    (tmp_path / "roles" / "a" / "main.yml").write_text("y")
    assert ws.digest("roles") != before

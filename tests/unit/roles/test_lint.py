"""Every playbook passes ansible-playbook --syntax-check; roles/ and playbooks/ pass ansible-lint
with the production profile."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import BIN, PLAYBOOKS, ROOT, ansible_env

PLAYBOOK_FILES = sorted(p.name for p in PLAYBOOKS.glob("*.yml"))


def test_the_playbooks_are_the_expected_ones() -> None:
    assert PLAYBOOK_FILES == ["burn_in.yml", "check_inventory.yml", "provision.yml"]


@pytest.mark.parametrize("playbook", PLAYBOOK_FILES)
def test_playbook_passes_the_syntax_check(playbook: str) -> None:
    argv = [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,"]
    result = subprocess.run(
        [*argv, str(PLAYBOOKS / playbook)],
        capture_output=True,
        text=True,
        env=ansible_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_roles_and_playbooks_pass_ansible_lint_production() -> None:
    argv = [str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor"]
    result = subprocess.run(
        [*argv, "roles", "playbooks"],
        capture_output=True,
        text=True,
        env=ansible_env(),
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "Profile 'production' was required, and it passed" in result.stderr + result.stdout

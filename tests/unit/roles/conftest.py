"""What the role tests share: the roles and their argument specs, the playbooks' plays, inventories
rendered by bringup.render, and the environment ansible-playbook runs in."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bringup.plan import Plan
from bringup.render import render_cluster_files, render_rack_files

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"
PLAYBOOKS = ROOT / "playbooks"
STACKS = ROOT / "stacks"
BIN = Path(sys.executable).parent
ROLE_NAMES = sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml"))
ENTRY_PLAYBOOKS = ("provision.yml", "burn_in.yml")


@cache
def role_options(role: str) -> dict[str, Any]:
    """The options of a role's main entry point, from its meta/argument_specs.yml."""
    data = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    options: dict[str, Any] = data["argument_specs"]["main"]["options"]
    return options


def role_of(variable: str) -> str | None:
    """The role whose prefix `variable` carries (the longest match), or None."""
    owners = [r for r in ROLE_NAMES if variable.startswith(f"{r}_")]
    return max(owners, key=len) if owners else None


@dataclass(frozen=True)
class Play:
    """One play of an entry playbook: its host pattern and its ordered roles."""

    hosts: str
    roles: tuple[str, ...]

    def groups(self) -> list[str]:
        """The groups of the host pattern (a union: 'hgx:nvl72')."""
        return self.hosts.split(":")


def plays(playbook: str) -> list[Play]:
    """The plays with roles of playbooks/`playbook`."""
    data = yaml.safe_load((PLAYBOOKS / playbook).read_text())
    return [
        Play(p["hosts"], tuple(r["role"] if isinstance(r, dict) else r for r in p["roles"]))
        for p in data
        if "roles" in p
    ]


def checked_roles(playbook: str) -> dict[str, list[str]]:
    """What the playbook asks check_inventory.yml to check: host class -> roles."""
    data = yaml.safe_load((PLAYBOOKS / playbook).read_text())
    imports = [p for p in data if p.get("ansible.builtin.import_playbook") == "check_inventory.yml"]
    assert len(imports) == 1, f"{playbook}: expected one import of check_inventory.yml, first"
    assert data.index(imports[0]) == 0, f"{playbook}: the inventory check must come first"
    roles: dict[str, list[str]] = imports[0]["vars"]["check_inventory_roles"]
    return roles


def render_inventory(plan: Plan, stack: str, racks: list[str] | None = None) -> dict[str, str]:
    """The stack's inventory files (the cluster files, and the host_vars of `racks` or all)."""
    files = render_cluster_files(plan, stack)
    for rack in racks if racks is not None else [r.name for r in plan.racks]:
        files.update(render_rack_files(plan, stack, rack))
    return files


def write_inventory(files: dict[str, str], folder: Path) -> Path:
    """Write rendered files under `folder`; returns its hosts.yml."""
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder / "hosts.yml"


def ansible_env(**extra: str) -> dict[str, str]:
    """The environment of an ansible-playbook run: the repository's ansible.cfg, the venv."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_NOCOLOR": "True",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }

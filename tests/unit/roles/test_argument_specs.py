"""The rendered inventory of every example stack against every role's argument spec.

For each host (in the groups bringup.render.hosts renders into hosts.yml), the variables Ansible
would see (group_vars/all.yml, then its SKU group's, then its host_vars) are validated with
Ansible's own ArgumentSpecValidator against the spec of each role the entry playbooks run on the
host's class: every required option present, every value of the declared type. A prefixed
variable that no spec declares is an error too. Large stacks are checked on the first and the
last rack of each SKU (the variables of a SKU's racks only differ in their values).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from bringup.plan import Plan, make_plan
from bringup.render.hosts import Group, inventory_groups
from bringup.spec import load_cluster

from .conftest import (
    ENTRY_PLAYBOOKS,
    ROLE_NAMES,
    ROLES,
    STACKS,
    checked_roles,
    plays,
    render_inventory,
    role_of,
    role_options,
)

STACK_NAMES = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml"))
ALL_RACKS_UP_TO = 64


def _racks(plan: Plan) -> list[str]:
    if len(plan.racks) <= ALL_RACKS_UP_TO:
        return [r.name for r in plan.racks]
    chosen: dict[str, list[str]] = {}
    for rack in plan.racks:
        chosen.setdefault(rack.sku, []).append(rack.name)
    return sorted({name for names in chosen.values() for name in (names[0], names[-1])})


def group_members(groups: dict[str, Group]) -> dict[str, set[str]]:
    """Every inventory group with its hosts, through its children."""

    @cache
    def members(name: str) -> frozenset[str]:
        group = groups[name]
        return frozenset(group.hosts).union(*(members(c) for c in group.children))

    return {name: set(members(name)) for name in groups}


@cache
def host_variables(stack: str) -> dict[str, tuple[dict[str, Any], set[str]]]:
    """host -> (the variables Ansible merges for it, its groups), for the checked racks."""
    plan = make_plan(load_cluster(STACKS / f"Pulumi.{stack}.yaml"))
    files = render_inventory(plan, stack, _racks(plan))
    members = group_members(inventory_groups(plan))
    group_vars = {
        rel[len("group_vars/") : -len(".yml")]: yaml.load(text, Loader=yaml.CSafeLoader)
        for rel, text in files.items()
        if rel.startswith("group_vars/")
    }
    result = {}
    for rel, text in files.items():
        if not rel.startswith("host_vars/"):
            continue
        host = rel[len("host_vars/") : -len(".yml")]
        groups = {g for g, hosts in members.items() if host in hosts}
        merged = dict(group_vars["all"])
        for group in sorted(groups & set(group_vars)):
            merged.update(group_vars[group])
        merged.update(yaml.load(text, Loader=yaml.CSafeLoader))
        result[host] = (merged, groups)
    return result


def roles_for(groups: set[str]) -> list[str]:
    """Every role an entry playbook runs on a host of `groups`."""
    roles = []
    for playbook in ENTRY_PLAYBOOKS:
        for play in plays(playbook):
            if groups & set(play.groups()):
                roles += [r for r in play.roles if r not in roles]
    return roles


def spec_problems(role: str, variables: dict[str, Any]) -> list[str]:
    """What Ansible would refuse when `role` runs with `variables`."""
    options = role_options(role)
    provided = {k: v for k, v in variables.items() if k in options}
    result = ArgumentSpecValidator(options).validate(provided)
    return list(result.error_messages)


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_rendered_variables_satisfy_the_spec_of_every_role_a_host_runs(stack: str) -> None:
    hosts = host_variables(stack)
    assert hosts, f"{stack}: no host_vars rendered"
    problems = []
    for host, (variables, groups) in sorted(hosts.items()):
        roles = roles_for(groups)
        assert roles, f"{stack}: {host} (groups {sorted(groups)}) gets no role"
        problems += [
            f"{host}: {role}: {p}" for role in roles for p in spec_problems(role, variables)
        ]
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_rendered_variable_is_declared_by_its_role_or_is_bringup_s(stack: str) -> None:
    unknown = set()
    for variables, _ in host_variables(stack).values():
        for name in variables:
            if name.startswith("bringup_"):
                continue
            role = role_of(name)
            if role is None or name not in role_options(role):
                unknown.add(f"{name} (role {role})")
    assert not unknown, f"{stack}: variables no role declares: {sorted(unknown)}"


def test_the_lab_renders_the_variables_each_class_needs() -> None:
    hosts = host_variables("lab")
    hgx, tray, cpu = (
        hosts["lab-h1-r01-k01-n1"][0],
        hosts["lab-h1-r01-k02-t01"][0],
        hosts["lab-h1-r01-k03-n1"][0],
    )
    assert [p["name"] for p in hgx["fabric_manager_packages"]] == [
        "nvidia-fabricmanager-570",
        "libnvidia-nscq-570",
    ]
    assert "fabric_manager_packages" not in tray
    assert [p["name"] for p in tray["nvlink_imex_packages"]] == ["nvidia-imex-570"]
    assert tray["nvlink_imex_enabled"] is True
    assert tray["nvlink_imex_owner"] == "host"
    assert len(tray["nvlink_imex_peers"]) == 18
    assert hgx["nvlink_imex_enabled"] is False
    assert hgx["nvlink_imex_peers"] == []
    assert tray["nvidia_driver_repository"] == "deb [trusted=yes] file:/srv/bringup-lab/repo ./"
    assert {k: tray["doca_ofed_interfaces"][0][k] for k in ("name", "address", "mtu")} == {
        "name": "ibp3s0",
        "address": "10.128.0.3/26",
        "mtu": 4092,
    }
    assert cpu["doca_ofed_packages"] == []
    assert "nvidia_driver_packages" not in cpu
    assert roles_for(hosts["lab-h1-r01-k03-n1"][1]) == [
        "doca_ofed",
        "storage_client",
        "slurm_node",
        "kubernetes_node",
        "provisioned",
    ]


def test_a_missing_or_mistyped_variable_is_reported_by_name() -> None:
    variables = dict(host_variables("lab")["lab-h1-r01-k02-t01"][0])
    assert spec_problems("nvlink", variables) == []
    del variables["nvlink_imex_peers"]
    variables["nvlink_imex_enabled"] = "perhaps"
    variables["nvlink_imex_owner"] = "gpu-operator"
    problems = "\n".join(spec_problems("nvlink", variables))
    assert "nvlink_imex_peers" in problems
    assert "nvlink_imex_enabled" in problems
    assert "nvlink_imex_owner" in problems


@pytest.mark.parametrize("playbook", ENTRY_PLAYBOOKS)
def test_the_inventory_check_covers_exactly_the_roles_each_class_gets(playbook: str) -> None:
    expected: dict[str, list[str]] = {}
    for play in plays(playbook):
        for group in play.groups():
            expected.setdefault(group, [])
            expected[group] += [r for r in play.roles if r not in expected[group]]
    assert checked_roles(playbook) == expected


def test_every_role_has_a_spec_and_every_spec_option_carries_the_role_prefix() -> None:
    assert ROLE_NAMES == [
        "burn_in",
        "cuda",
        "dcgm",
        "doca_ofed",
        "fabric_manager",
        "kubernetes_node",
        "nvidia_driver",
        "nvlink",
        "provisioned",
        "slurm_node",
        "storage_client",
    ]
    for role in ROLE_NAMES:
        for option, spec in role_options(role).items():
            assert role_of(option) == role, f"{role}: option {option} lacks the role's prefix"
            assert spec.get("description"), f"{role}: option {option} has no description"
            assert "type" in spec, f"{role}: option {option} has no type"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_defaults_and_spec_agree(role: str) -> None:
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    options = role_options(role)
    assert set(defaults) <= set(options), f"{role}: defaults the spec lacks"
    for name, spec in options.items():
        if spec.get("required"):
            assert name not in defaults, f"{role}: {name} is required (from the inventory)"
            text = (ROLES / role / "defaults" / "main.yml").read_text()
            assert f"# {name}:" in text, f"{role}: {name} is not documented in defaults/main.yml"
        else:
            assert name in defaults, f"{role}: {name} has no default"
            assert defaults[name] == spec.get("default"), f"{role}: {name}"

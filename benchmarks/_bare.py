"""The bare program of engine_bare.py: bringup's resource tree, with nothing in it.

It declares one component for each of bringup's components and one dynamic resource for each of
its dynamic resources, with the same names and parents, and no inputs or outputs. Its provider
does nothing, is pickled by reference (this module is on the provider process's PYTHONPATH), as
bringup's providers are, and keeps its state in the clear, as bringup's do: what is left is the
engine's own cost of a tree of that shape.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from bringup.infra.program import registered


@dataclass(frozen=True)
class Node:
    """One resource of the tree: its name, its parent's name (None: the stack), its kind."""

    name: str
    parent: str | None
    custom: bool


def shape(resources: list[dict[str, Any]]) -> list[Node]:
    """The tree of a stack's exported resources (parents first, as the state lists them),
    less the stack itself and the providers."""
    kept = [
        r
        for r in resources
        if r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:")
    ]
    names = {r["urn"]: r["urn"].rsplit("::", 1)[-1] for r in kept}
    return [Node(names[r["urn"]], names.get(r.get("parent", "")), bool(r["custom"])) for r in kept]


class NoopProvider(ResourceProvider):
    """Creates nothing; every other operation is the SDK's default."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="bare", outs={})


class Leaf(Resource, module="bare", name="Leaf"):
    """A dynamic resource without inputs."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NoopProvider(), name, {}, opts)


class Group(pulumi.ComponentResource):
    """A component without outputs."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bare:index:Group", name, None, opts)


def declare(tree: list[Node], wait: bool = False) -> Awaitable[None] | None:
    """The bare program: declare `tree`, each component's outputs registered once, last.
    With `wait`, it then waits for its resources' registrations as bringup's program does
    (bringup.infra.program.registered)."""
    groups: dict[str, Group] = {}
    declared: list[pulumi.Resource] = []
    for node in tree:
        parent = groups.get(node.parent) if node.parent else None
        opts = pulumi.ResourceOptions(parent=parent)
        if node.custom:
            declared.append(Leaf(node.name, opts))
        else:
            declared.append(group := Group(node.name, opts))
            groups[node.name] = group
    for group in groups.values():
        group.register_outputs({})
    return registered(declared) if wait else None

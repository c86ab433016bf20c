"""The house's structure, checked: no import cycle, every import allowed by the layer table.

The table is ARCHITECTURE.md §3, read this way: the pure core (catalog, spec, plan, render,
parsers) imports only downwards; workspace and access sit on the plan; validation reads the
plan and the parsers; provision, admit, scheduler and health use those; infra (Pulumi) drives
them; the lab is infrastructure beside them; the command line may use everything. `errors`,
`atomic` and `wire` are utilities every layer may use. Every import counts, a deferred one inside a
function too: it is as much a dependency as one at the top.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "bringup"
UTILITIES = {"errors", "atomic", "wire"}
CORE = {"catalog", "spec", "declaration", "plan", "render", "parsers"}

# layer -> the layers it may import (besides itself and the utilities)
ALLOWED: dict[str, set[str]] = {
    "catalog": set(),
    "parsers": set(),
    "declaration": {"catalog"},  # the spec's loader: bounded YAML reading, the error type
    "spec": {"catalog", "declaration"},
    "plan": {"catalog", "spec", "declaration"},
    "render": {"catalog", "spec", "declaration", "plan"},
    "workspace": set(),
    "access": {"workspace", *CORE},
    "validation": {"plan", "parsers", "catalog", "spec", "declaration"},
    "provision": {"validation", "workspace", "access", *CORE},
    # admission burns nodes in through provision's playbook runner, and holds and releases them
    # through the scheduler adapters' interface: same floor, one way (neither imports admit)
    "admit": {"provision", "scheduler", "validation", "workspace", "access", *CORE},
    "scheduler": {"validation", "workspace", "access", *CORE},
    "health": {"admit", "scheduler", "provision", "validation", "workspace", "access", *CORE},
    "infra": {"provision", "admit", "scheduler", "validation", "workspace", "access", *CORE},
    "report": {"admit", "scheduler", *CORE},
    # the lab renders its own Slurm configuration (its controller, its paths) for its nodes
    "lab": {"workspace", "access", "plan", "render", "parsers", "catalog", "spec", "declaration"},
}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The bringup modules `name` imports (a `from x import y` of a submodule counts as y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in known else base for t in targets]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("bringup.") and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imports(name, path, set(known))) for name, path in known.items()}


def layer(module: str) -> str:
    """The layer of a module: its first name under bringup (the package root is none)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycle_among_bringup_modules() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    # a package's __init__ importing its own submodules is how a package exports them
    cycles = [c for c in cycles if not _package_exports(c)]
    assert cycles == []


def _package_exports(component: list[str]) -> bool:
    """A cycle made only of a package and the submodules its __init__ re-exports."""
    packages = [m for m in component if (PACKAGE.parent / m.replace(".", "/")).is_dir()]
    return len(packages) == 1 and all(
        m == packages[0] or m.startswith(packages[0] + ".") for m in component
    )


def test_every_import_is_allowed_by_the_layer_table() -> None:
    broken = []
    for module, targets in sorted(graph().items()):
        if layer(module) in {"", "cli", "__main__"}:
            continue
        mine = layer(module)
        assert mine in ALLOWED or mine in UTILITIES, f"{module}: a layer the table lacks"
        allowed = ALLOWED.get(mine, set()) | UTILITIES | {mine}
        broken += [f"{module} -> {t}" for t in sorted(targets) if layer(t) not in allowed]
    assert broken == []


def test_validation_never_imports_admission() -> None:
    edges = graph()
    assert not [
        (m, t)
        for m, targets in edges.items()
        if layer(m) == "validation"
        for t in targets
        if layer(t) == "admit"
    ]


LAB_PATH = re.compile(r"""["']\.lab["']|/\s*["']\.lab\b|stack\s*==\s*["']lab["']""")


@pytest.mark.parametrize("module", sorted(modules()), ids=str)
def test_only_the_lab_knows_where_the_lab_lives(module: str) -> None:
    if layer(module) == "lab" or module == "bringup.cli.lab":
        return
    text = modules()[module].read_text(encoding="utf-8")
    assert not LAB_PATH.findall(text), module


def test_the_table_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The walk sees a deferred import inside a function (what the table must refuse)."""
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from bringup.admit.ledger import Ledger\n    return Ledger\n")
    known = set(modules())
    assert set(imports("bringup.validation.probe", source, known)) == {"bringup.admit.ledger"}

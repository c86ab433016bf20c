"""Write a stack's rendered inventory to disk without Pulumi (for `bringup provision`, `admit`)."""

from __future__ import annotations

from pathlib import Path

from bringup.atomic import write_atomic
from bringup.plan import Plan
from bringup.render import render_cluster_files, render_rack_files
from bringup.workspace import StackPaths


def write_inventory(plan: Plan, stack: StackPaths) -> Path:
    """Render every inventory file of `plan` into the stack's folder; returns hosts.yml."""
    files = render_cluster_files(plan, stack.name)
    for rack in plan.racks:
        files.update(render_rack_files(plan, stack.name, rack.name))
    for rel, text in sorted(files.items()):
        path = stack.inventory / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        write_atomic(path, text.encode("utf-8"))
    return stack.hosts_file

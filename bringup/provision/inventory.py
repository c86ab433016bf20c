"""Write a stack's rendered inventory to disk without Pulumi (for `bringup provision`)."""

from __future__ import annotations

from pathlib import Path

from bringup.atomic import write_atomic
from bringup.plan import Plan
from bringup.render import inventory_dir, render_cluster_files, render_rack_files


def write_inventory(plan: Plan, stack: str, root: Path) -> Path:
    """Render every inventory file of `plan` under `root`; returns the hosts.yml path."""
    folder = root / inventory_dir(stack)
    files = render_cluster_files(plan, stack)
    for rack in plan.racks:
        files.update(render_rack_files(plan, stack, rack.name))
    for rel, text in sorted(files.items()):
        path = folder / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        write_atomic(path, text.encode("utf-8"))
    return folder / "hosts.yml"

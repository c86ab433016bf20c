"""Pure renderers: a plan in, the text of every inventory file out (from templates/).

Rendering reads nothing but the templates, runs nothing and never looks at the clock: the same
plan gives byte-identical files, so their content hashes say exactly what changed.
"""

from bringup.render.inventory import (
    content_hash,
    render_cluster_files,
    render_rack_files,
)

__all__ = ["content_hash", "render_cluster_files", "render_rack_files"]

"""The Jinja2 environment of the render layer: templates/ of the repository and a YAML filter.

Templates mirror the path they render to (``templates/inventory/hosts.yml.j2`` renders
``inventory/<stack>/hosts.yml``). They name the variables they write; the data comes from the
plan as plain Python values and is written by :func:`to_yaml`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from bringup.render.dumper import block_yaml

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def to_yaml(data: Any) -> str:
    """Block-style YAML of the mapping or list `data`, sorted keys, without the final line break.

    The template owns line ends, so ``{{ x | to_yaml }}`` on a line of its own writes exactly
    that block.

    >>> to_yaml({"b": [1, 2], "a": "x"})
    'a: x\\nb:\\n- 1\\n- 2'
    """
    return block_yaml(data).removesuffix("\n")


@cache
def environment() -> Environment:
    """The one Jinja2 environment, loading from templates/ (cached: templates never change)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,  # no stat of the template file on every render
    )
    env.filters["to_yaml"] = to_yaml
    return env


def template(name: str) -> Template:
    """The compiled template `name`, relative to templates/ (compiled once per process)."""
    return environment().get_template(name)

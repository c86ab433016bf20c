"""What the plan expects of one node, read back from its rendered host variables.

The suite never derives an expectation: it loads ``bringup_expected`` from
``inventory/<stack>/host_vars/<node>.yml`` into the plan's own model,
:class:`~bringup.plan.expectation.NodeExpectation`, through testinfra's Ansible backend or, for
other backends, from a host_vars file given with ``--bringup-expected``. The DCGM level burn-in
ran at comes from the command line, else the inventory's ``burn_in_dcgm_diag_level``, else the
SKU's threshold.

>>> from bringup.plan import make_plan, node_expectation
>>> from bringup.spec import load_cluster
>>> plan = make_plan(load_cluster(Path("stacks/Pulumi.lab.yaml")))
>>> data = node_expectation(plan, plan.nodes[0]).to_json()
>>> read_expectation({"bringup_expected": data}).expected.name
'lab-h1-r01-k01-n1'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bringup.plan import NodeExpectation


class ExpectationError(ValueError):
    """Host variables without the plan's expectations, or with ones that do not load."""


@dataclass(frozen=True)
class HostExpectation:
    """A node's expectation and the DCGM level its burn-in ran at."""

    expected: NodeExpectation
    diag_level: int | None


def read_expectation(
    variables: Mapping[str, object], *, diag_level: int | None = None
) -> HostExpectation:
    """Load from a host's variables (Ansible hostvars or a host_vars file)."""
    host = variables.get("inventory_hostname", "?")
    data = variables.get("bringup_expected")
    if not isinstance(data, Mapping):
        raise ExpectationError(
            f"{host}: no bringup_expected in its variables; render the inventory with "
            "`bringup provision` or `bringup up`"
        )
    try:
        expected = NodeExpectation.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ExpectationError(
            f"{host}: bringup_expected.{where}: {first['msg']} (re-render the inventory)"
        ) from None
    level = diag_level
    inventory_level = variables.get("burn_in_dcgm_diag_level")
    if level is None and isinstance(inventory_level, int):
        level = inventory_level
    if level is None:
        level = expected.thresholds.dcgm_diag_level
    return HostExpectation(expected, level)


def read_expectation_file(path: Path, *, diag_level: int | None = None) -> HostExpectation:
    """Load from a host_vars YAML file."""
    try:
        variables = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ExpectationError(f"{path}: cannot read: {error}") from None
    if not isinstance(variables, Mapping):
        raise ExpectationError(f"{path}: expected a mapping of variables")
    return read_expectation(variables, diag_level=diag_level)

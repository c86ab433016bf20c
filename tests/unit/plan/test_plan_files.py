"""cabling.csv's rows, as the writer makes them, against the cables they stand for: each cable of
`fabric_cables` written by the csv module. For every example stack, the synthetic plans of the
cabling tests (two planes, an appliance, switch trays' BMCs, three tiers, a missing SU) and
generated layouts."""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bringup.plan import Plan, fabric_cables, make_plan, write_cabling_csv
from bringup.plan.summary import CABLE_COLUMNS
from bringup.spec import load_cluster

from .test_cabling import PLANS
from .test_properties import _build, layouts

STACKS = Path(__file__).resolve().parents[3] / "stacks"
STACK_NAMES = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS.iterdir())


@cache
def _plan(name: str) -> Plan:
    if name in PLANS:
        return PLANS[name]
    return make_plan(load_cluster(STACKS / f"Pulumi.{name}.yaml"))


def _cable_rows(plan: Plan) -> list[str]:
    """cabling.csv's lines as the csv module writes every cable of `fabric_cables`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CABLE_COLUMNS)
    writer.writerows(
        (c.id, c.fabric, c.plane, c.tier, c.rail or "", c.a_device, c.a_port,
         c.b_device, c.b_port, c.speed_gbps)
        for fp in plan.fabrics for plane in fp.planes for c in fabric_cables(fp, plane)
    )  # fmt: skip
    return out.getvalue().splitlines()


@pytest.mark.parametrize("name", STACK_NAMES + sorted(PLANS))
def test_cabling_csv_rows_are_the_cables_as_the_csv_module_writes_them(name: str) -> None:
    plan = _plan(name)
    out = io.StringIO()
    count = write_cabling_csv(plan, out)
    rows = _cable_rows(plan)
    assert out.getvalue().splitlines() == rows
    assert count == len(rows) - 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_generated_layouts_write_their_cables(layout: dict[str, object]) -> None:
    plan = _build(layout)
    out = io.StringIO()
    write_cabling_csv(plan, out)
    assert out.getvalue().splitlines() == _cable_rows(plan)

"""plan.json's nodes and cabling.csv's rows, as the writers make them, against what they stand
for: each node's expectation dumped by its model, each cable of `fabric_cables` written by the
csv module. For every example stack, the synthetic plans of the cabling tests (two planes, an
appliance, switch trays' BMCs, three tiers, a missing SU) and generated layouts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic_core import to_json

from bringup.plan import Plan, fabric_cables, make_plan, write_cabling_csv, write_plan_json
from bringup.plan import node_lines as node_lines_module
from bringup.plan.expectation import Expectations, NodeExpectation
from bringup.plan.model import Node
from bringup.plan.node_lines import NodeLines
from bringup.plan.scheduler import kubernetes_labels
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


def _dumped(plan: Plan) -> Iterator[str]:
    """Each node's line the straightforward way: its expectation as the model dumps it, its
    Kubernetes labels added before the closing brace."""
    expectations = Expectations(plan)
    for node in plan.nodes:
        state = expectations.of(node).model_dump_json()
        labels = to_json(kubernetes_labels(plan, node)).decode()
        yield f'{state[:-1]},"kubernetes_labels":{labels}}}'


def _written_nodes(plan: Plan) -> list[str]:
    """The lines of plan.json's nodes array, as write_plan_json writes them."""
    out = io.StringIO()
    write_plan_json(plan, out)
    lines = out.getvalue().splitlines()
    start = lines.index('"nodes": [') + 1
    end = lines.index("],", start)
    return [line.removesuffix(",") for line in lines[start:end]]


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


def _assert_same_nodes(plan: Plan, written: list[str]) -> None:
    assert len(written) == len(plan.nodes)
    for node, line, dumped in zip(plan.nodes, written, _dumped(plan), strict=True):
        if line != dumped:
            pairs = enumerate(zip(line, dumped, strict=False))
            at = next((i for i, (a, b) in pairs if a != b), min(len(line), len(dumped)))
            pytest.fail(
                f"{node.name}: plan.json's line is not its model's dump, from character {at}: "
                f"{line[at : at + 80]!r}, expected {dumped[at : at + 80]!r}"
            )


@pytest.mark.parametrize("name", STACK_NAMES + sorted(PLANS))
def test_plan_json_nodes_are_their_models_dumps(name: str) -> None:
    plan = _plan(name)
    _assert_same_nodes(plan, _written_nodes(plan))


@pytest.mark.parametrize("name", STACK_NAMES + sorted(PLANS))
def test_every_node_is_written_from_a_template(name: str) -> None:
    plan = _plan(name)
    lines = NodeLines(plan)
    list(lines)
    # a refused template writes correct lines, slowly: a value that differs from node to node
    # is missing from node_lines' marks and values
    assert lines.refused == []


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
def test_generated_layouts_write_their_models_dumps_and_cables(layout: dict[str, object]) -> None:
    plan = _build(layout)
    _assert_same_nodes(plan, _written_nodes(plan))
    out = io.StringIO()
    write_cabling_csv(plan, out)
    assert out.getvalue().splitlines() == _cable_rows(plan)


def _assert_refused_and_dumped(plan: Plan) -> None:
    lines = NodeLines(plan)
    written = list(lines)
    assert lines.refused
    _assert_same_nodes(plan, written)


def test_a_value_the_template_does_not_fill_refuses_it_and_nodes_are_dumped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as if the model gained a field that differs from node to node, which no mark covers
    of = Expectations.of

    def per_node(self: Expectations, node: Node) -> NodeExpectation:
        return of(self, node).model_copy(update={"kind": node.name})

    monkeypatch.setattr(Expectations, "of", per_node)
    _assert_refused_and_dumped(_plan("lab"))


def test_a_mark_missing_from_the_dump_refuses_the_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marked = node_lines_module._marked_node

    def unmarked_nics(expected: NodeExpectation, mark: node_lines_module._Marks) -> object:
        return marked(expected, mark).model_copy(update={"nics": expected.nics})

    monkeypatch.setattr(node_lines_module, "_marked_node", unmarked_nics)
    _assert_refused_and_dumped(_plan("lab"))

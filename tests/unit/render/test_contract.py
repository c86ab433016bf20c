"""The contract from plan to validation: render dumps each node's expectation, load reads it back.

What the suite judges and the lab emulates is only what survives this round trip, so it must
be lossless for every node of every example stack.
"""

from __future__ import annotations

import pytest
import yaml

from bringup.plan import NodeExpectation, node_expectation
from bringup.render import render_rack_files

from .conftest import stack_plan


@pytest.mark.parametrize("stack", ["lab", "mixed", "gb200-su", "h100-4su"])
def test_render_then_load_gives_the_plans_expectation_back(stack: str) -> None:
    plan = stack_plan(stack)
    checked = 0
    for rack in plan.racks[:12]:
        files = render_rack_files(plan, stack, rack.name)
        for node in plan.nodes_in(rack.name):
            data = yaml.safe_load(files[f"host_vars/{node.name}.yml"])
            loaded = NodeExpectation.model_validate(data["bringup_expected"])
            assert loaded == node_expectation(plan, node), node.name
            assert loaded.to_json() == data["bringup_expected"], node.name
            checked += 1
    assert checked >= 4


def test_a_loaded_expectation_refuses_what_the_plan_never_writes() -> None:
    plan = stack_plan("lab")
    data = node_expectation(plan, plan.nodes[0]).to_json()
    data["nics"][0]["rate_gbps"] = "fast"
    data["surprise"] = 1
    with pytest.raises(ValueError, match=r"nics\.0\.rate_gbps") as error:
        NodeExpectation.model_validate(data)
    assert "surprise" in str(error.value)


def test_services_follow_the_planned_software() -> None:
    plan = stack_plan("lab")
    services = {n.kind + n.sku: node_expectation(plan, n).services for n in plan.nodes}
    assert services["nodehgx-h100"] == ("nvidia-dcgm", "nvidia-fabricmanager")
    assert services["traygb200-nvl72"] == ("nvidia-dcgm", "nvidia-imex")  # NVLSM: B200/B300
    assert services["nodecpu"] == ()

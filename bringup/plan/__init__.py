"""Pure planners: from a validated cluster declaration to one deterministic Plan."""

from bringup.plan.cabling import Cable, fabric_cables
from bringup.plan.expectation import NodeExpectation, node_expectation
from bringup.plan.model import Node, NvlinkDomain, PlanError, RackPlan
from bringup.plan.plan import Plan, make_plan
from bringup.plan.summary import summary, write_cabling_csv, write_plan_json

__all__ = [
    "Cable",
    "Node",
    "NodeExpectation",
    "NvlinkDomain",
    "Plan",
    "PlanError",
    "RackPlan",
    "fabric_cables",
    "make_plan",
    "node_expectation",
    "summary",
    "write_cabling_csv",
    "write_plan_json",
]

"""Pure planners: from a validated cluster declaration to one deterministic Plan."""

from bringup.plan.cabling import Cable, fabric_cables
from bringup.plan.expected import expected_state
from bringup.plan.model import Node, NvlinkDomain, PlanError, RackPlan
from bringup.plan.plan import Plan, make_plan
from bringup.plan.summary import summary, write_cabling_csv, write_plan_json

__all__ = [
    "Cable",
    "Node",
    "NvlinkDomain",
    "Plan",
    "PlanError",
    "RackPlan",
    "expected_state",
    "fabric_cables",
    "make_plan",
    "summary",
    "write_cabling_csv",
    "write_plan_json",
]

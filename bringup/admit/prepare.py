"""What an admission run needs before it starts: the ledger it writes to, and its request.

The request is built from the plan and checked against it: the nodes asked for exist, a quorum
fits the NVLink domains it would apply to. The stack's inventory is rendered first, since the
suite and the burn-in playbook read it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from bringup.access import Access
from bringup.admit.admission import AdmissionRequest
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import DomainPolicy
from bringup.errors import BringupError
from bringup.plan import Plan
from bringup.provision.inventory import write_inventory
from bringup.scheduler.adapter import SchedulerError
from bringup.scheduler.jobs import runner_for
from bringup.workspace import StackPaths, Workspace

LEDGER_URL_VARIABLE = "BRINGUP_LEDGER_URL"
"""A PostgreSQL URL for a shared ledger (an environment variable keeps its password out of the
process list and shell history); unset, the ledger is SQLite under .state/."""


class AdmitInputError(BringupError, ValueError):
    """A request that names something the plan does not have, or asks the impossible of it."""


def open_ledger(workspace: Workspace) -> Ledger:
    """The ledger: PostgreSQL when BRINGUP_LEDGER_URL is set, else the workspace's SQLite file."""
    return Ledger.open(os.environ.get(LEDGER_URL_VARIABLE) or None, path=workspace.ledger)


def check_policy(policy: DomainPolicy, plan: Plan, hosts: Sequence[str]) -> None:
    """AdmitInputError when a quorum is larger than an NVLink domain it would apply to."""
    if policy.kind != "quorum":
        return
    wanted = set(hosts)
    sizes = sorted({len(d.nodes) for d in plan.shared_domains if wanted & set(d.nodes)})
    if sizes and policy.quorum > sizes[0]:
        raise AdmitInputError(
            f"--domain-policy: quorum:{policy.quorum} cannot be met: the NVLink domains judged "
            f"have {sizes[0]} nodes; expected quorum:1 to quorum:{sizes[0]}"
        )


def admission_request(
    plan: Plan,
    stack: StackPaths,
    access: Access,
    *,
    limit: Sequence[str] | None,
    policy: DomainPolicy,
    dcgm_level: int,
    burn_in: bool,
    batch: int,
    via: Literal["ssh", "scheduler"] = "ssh",
) -> AdmissionRequest:
    """Render the inventory and build the request for `limit` (every node when None)."""
    names = [n.name for n in plan.nodes]
    hosts = list(limit) if limit is not None else names
    unknown = sorted(set(hosts) - set(names))
    if unknown:
        raise AdmitInputError(f"--limit: {', '.join(unknown)} not in stack {stack.name!r}")
    check_policy(policy, plan, hosts)
    if via == "scheduler":
        try:
            runner_for(access.scheduler)
        except SchedulerError as error:
            raise AdmitInputError(f"--via scheduler: {error}") from None
    inventory = write_inventory(plan, stack)
    return AdmissionRequest(
        stack=stack.name,
        hosts=tuple(h for h in names if h in set(hosts)),
        inventory=inventory,
        work=stack.admission,
        domains={d.name: d.nodes for d in plan.shared_domains},
        policy=policy,
        dcgm_level=dcgm_level,
        burn_in=burn_in,
        batch=batch,
        via=via,
        access=access,
        repository=stack.workspace.repository,
    )

"""What `bringup admit` and `bringup status` need around `admit`: the request from a plan, the
ledger's location, and the tables they print.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bringup.admit.admission import AdmissionRequest, AdmissionResult
from bringup.admit.fabric import lab_far_end
from bringup.admit.ledger import Ledger, NodeStatus
from bringup.admit.verdict import DomainPolicy, FarEnd
from bringup.plan import Plan, expected_state
from bringup.provision.inventory import write_inventory
from bringup.provision.runner import SshSettings, lab_settings

LEDGER_URL_VARIABLE = "BRINGUP_LEDGER_URL"
"""A PostgreSQL URL for a shared ledger (an environment variable keeps its password out of the
process list and shell history); unset, the ledger is SQLite under .state/."""


class AdmitInputError(ValueError):
    """A request that names something the plan does not have."""


def open_ledger(root: Path) -> Ledger:
    """The ledger: PostgreSQL when BRINGUP_LEDGER_URL is set, else .state/ledger.sqlite3."""
    url = os.environ.get(LEDGER_URL_VARIABLE) or None
    return Ledger.open(url, path=root / ".state" / "ledger.sqlite3")


def nvlink_domains(plan: Plan) -> dict[str, list[str]]:
    """NVLink domains of more than one node (NVL72 racks): domain -> member nodes."""
    domains: dict[str, list[str]] = {}
    for node in plan.nodes:
        domain = (expected_state(plan, node).get("nvlink") or {}).get("domain")
        if domain:
            domains.setdefault(str(domain), []).append(node.name)
    return {d: members for d, members in domains.items() if len(members) > 1}


@dataclass(frozen=True)
class Access:
    """How admission reaches a stack's nodes from here: the lab's settings when it runs here."""

    ssh: SshSettings
    extra_vars: dict[str, Any]
    ssh_config: Path | None
    far_end: FarEnd | None


def access(root: Path, stack: str) -> Access:
    """The stack's lab key, overrides, ssh_config and cable view, or none of them."""
    ssh, extra_vars = lab_settings(root, stack)
    lab = root / ".lab" / stack
    config = lab / "ssh" / "config"
    return Access(
        ssh,
        extra_vars,
        config if config.exists() else None,
        lab_far_end() if (lab / "state.json").exists() else None,
    )


def prepare(
    plan: Plan,
    stack: str,
    root: Path,
    *,
    limit: Sequence[str] | None,
    policy: DomainPolicy,
    dcgm_level: int,
    burn_in: bool,
    batch: int,
) -> tuple[AdmissionRequest, FarEnd | None]:
    """Render the inventory and build the request; the lab's settings when its lab runs here."""
    names = [n.name for n in plan.nodes]
    hosts = list(limit) if limit else names
    unknown = sorted(set(hosts) - set(names))
    if unknown:
        raise AdmitInputError(f"--limit: {', '.join(unknown)} not in stack {stack!r}")
    inventory = write_inventory(plan, stack, root)
    reach = access(root, stack)
    request = AdmissionRequest(
        stack=stack,
        hosts=tuple(h for h in names if h in set(hosts)),
        inventory=inventory,
        domains=nvlink_domains(plan),
        policy=policy,
        dcgm_level=dcgm_level,
        burn_in=burn_in,
        batch=batch,
        ssh=reach.ssh,
        ssh_config=reach.ssh_config,
        extra_vars=reach.extra_vars,
    )
    return request, reach.far_end


def admission_table(result: AdmissionResult, plan: Plan) -> Table:
    """One row per node judged: verdict and the findings that name the part at fault."""
    sku = {n.name: n.sku for n in plan.nodes}
    table = Table(title=f"admission run {result.run_id}{' (resumed)' if result.resumed else ''}")
    for column in ("node", "sku", "verdict", "component", "check", "observed", "expected"):
        table.add_column(column, overflow="fold")
    style = {"admitted": "green", "quarantined": "red", "unreachable": "yellow"}
    for node, verdict in sorted(result.verdicts.items()):
        mark = f"[{style[verdict.verdict]}]{verdict.verdict}[/]"
        if not verdict.findings:
            table.add_row(node, sku.get(node, ""), mark, "", "", "", "")
        for i, f in enumerate(verdict.findings):
            table.add_row(
                node if i == 0 else "",
                sku.get(node, "") if i == 0 else "",
                mark if i == 0 else "",
                f.component,
                f.check,
                f.observed,
                f.expected,
            )
    return table


def domain_table(result: AdmissionResult) -> Table | None:
    if not result.domains:
        return None
    table = Table(title="NVLink domains")
    for column in ("domain", "policy", "status", "healthy", "at fault"):
        table.add_column(column, overflow="fold")
    for d in result.domains:
        table.add_row(d.domain, d.policy, d.status, str(len(d.healthy)), ", ".join(d.faulty))
    return table


def capacity(result_states: Sequence[NodeStatus], plan: Plan) -> dict[str, dict[str, int]]:
    """Admitted nodes and GPUs per SKU."""
    gpus = {
        n.name: (n.sku, int((expected_state(plan, n).get("gpu") or {}).get("count", 0)))
        for n in plan.nodes
    }
    out: dict[str, dict[str, int]] = {}
    for status in result_states:
        if status.state != "admitted" or status.node not in gpus:
            continue
        sku, count = gpus[status.node]
        row = out.setdefault(sku, {"nodes": 0, "gpus": 0})
        row["nodes"] += 1
        row["gpus"] += count
    return out


def status_table(stack: str, states: Sequence[NodeStatus], plan: Plan) -> Table:
    """Per rack: each node's state, since when, and its latest findings."""
    rack = {n.name: str(expected_state(plan, n)["rack"]) for n in plan.nodes}
    known = {s.node: s for s in states}
    table = Table(title=f"{stack}: node states")
    for column in ("rack", "node", "state", "since", "findings"):
        table.add_column(column, overflow="fold")
    last_rack = None
    for node in plan.nodes:
        status = known.get(node.name)
        findings = "; ".join(f"{f.component} {f.check}" for f in status.findings) if status else ""
        table.add_row(
            rack[node.name] if rack[node.name] != last_rack else "",
            node.name,
            status.state if status else "unknown",
            status.since.strftime("%Y-%m-%d %H:%M:%S") if status else "",
            findings,
        )
        last_rack = rack[node.name]
    return table


def result_json(result: AdmissionResult) -> dict[str, Any]:
    """The run's verdicts as plain data (Pulumi outputs, --format json)."""
    return {
        "run": result.run_id,
        "admitted": result.with_verdict("admitted"),
        "quarantined": {
            n: [f.to_json() for f in v.findings]
            for n, v in sorted(result.verdicts.items())
            if v.verdict == "quarantined"
        },
        "unreachable": result.with_verdict("unreachable"),
        "domains": [
            {"domain": d.domain, "status": d.status, "policy": d.policy, "faulty": list(d.faulty)}
            for d in result.domains
        ],
    }

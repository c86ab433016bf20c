"""Every table the command line prints. Values go in as Text, so nothing in them is read as
markup: an observed value such as ``[/dev/nvidia3]`` prints as it is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from bringup.plan import Plan

if TYPE_CHECKING:  # the command line starts without the layers it does not use
    from bringup.admit.admission import AdmissionResult
    from bringup.admit.ledger import Incident
    from bringup.admit.standing import NodeStanding
    from bringup.provision.runner import ProvisionResult

VERDICT_STYLES = {"admitted": "green", "quarantined": "red", "unreachable": "yellow"}
HOST_STYLES = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "magenta"}
INCIDENT_STYLES = {"open": "red", "held": "bold yellow", "closed": "green"}


def _table(
    title: str,
    columns: Sequence[str],
    *,
    right: Iterable[str] = (),
    whole: Mapping[str, Iterable[str]] | None = None,
) -> Table:
    """A table of `columns`, a value too long for its column folded onto the next line, never
    cut; the columns of `whole` are as wide as their longest value (names stay on one line)."""
    table = Table(title=Text(title))
    aligned = set(right)
    widths = {c: max(map(len, values), default=0) for c, values in (whole or {}).items()}
    for column in columns:
        table.add_column(
            Text(column),
            justify="right" if column in aligned else "left",
            min_width=widths.get(column),
            overflow="fold",
        )
    return table


def _row(table: Table, *cells: object, style: str | None = None) -> None:
    table.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells), style=style)


def plan_tables(data: Mapping[str, Any]) -> list[Table | Text]:
    """`bringup plan`: systems per SKU, the fabrics per plane, the address plan."""
    bom = data["bom"]
    head = _table(
        f"cluster {data['cluster']} at {data['site']}",
        ("SKU", "racks", "nodes / trays", "GPUs"),
        right=("racks", "nodes / trays", "GPUs"),
    )
    for sku, nodes in bom["systems"].items():
        _row(head, sku, bom["racks"].get(sku, 0), nodes, bom["gpus"].get(sku, 0))
    _row(head, "total", data["racks"], data["nodes"], data["gpus"], style="bold")
    line = Text(
        f"NVLink domains: {data['nvlink_domains']}   NVLink switch trays: "
        f"{bom['nvlink_switch_trays']}   power: {bom['power_kw']:,} kW"
    )
    fabrics = _table(
        "fabrics, per plane",
        ("fabric", "plane", "switch", "tiers", "leaf / spine / core", "cables n-l / l-s / s-c",
         "optics"),
        right=("leaf / spine / core", "cables n-l / l-s / s-c", "optics"),
    )  # fmt: skip
    for name, fabric in data["fabrics"].items():
        for p in fabric["planes"]:
            cables = p["cables"]
            _row(
                fabrics,
                name,
                p["plane"],
                f"{fabric['switch']} {fabric['speed_gbps']}G",
                p["tiers"],
                f"{p['leaf']:,} / {p['spine']:,} / {p['core']:,}",
                f"{cables['node_leaf']:,} / {cables['leaf_spine']:,} / {cables['spine_core']:,}",
                f"{p['transceivers']:,}",
            )
    addresses = _table("addresses", ("fabric", "role", "scheme", "endpoints"))
    for name, fabric in data["fabrics"].items():
        _row(addresses, name, fabric["role"], fabric["addressing"], fabric["endpoints"])
    return [head, line, fabrics, addresses]


def operations_table(title: str, summary: Mapping[str, int]) -> Table:
    """How many resources each engine operation touched."""
    table = _table(title, ("operation", "resources"), right=("resources",))
    for op, count in summary.items():
        _row(table, op, count)
    return table


def provisioned_table(hosts: Mapping[str, Mapping[str, Any]]) -> Table:
    """`up --provision`: each host's status and changed count, from the racks' outputs."""
    table = _table("provisioning, per host", ("host", "status", "changed"))
    for host, r in sorted(hosts.items()):
        _row(table, host, r.get("status"), r.get("changed"))
    return table


def playbook_table(result: ProvisionResult, title: str) -> Table:
    """One row per host of a playbook run: status, counts, the failed task and its message."""
    table = _table(title, ("host", "status", "ok", "changed", "failed task", "message"))
    for host, r in sorted(result.hosts.items()):
        status = Text(r.status, style=HOST_STYLES[r.status])
        _row(table, host, status, r.ok, r.changed, r.failed_task or "", r.message or "")
    return table


def verdicts_table(admission: Mapping[str, Mapping[str, Any]]) -> Table:
    """`up --admit`: per node, from the racks' Admission outputs, the verdict, what the
    scheduler made of the node, and its first finding."""
    table = _table(
        "admission, per node",
        ("node", "verdict", "scheduler", "component", "check", "observed", "expected"),
    )
    for _, result in sorted(admission.items()):
        rows: list[tuple[str, str, list[Mapping[str, Any]]]] = [
            *((n, "admitted", []) for n in result.get("admitted", [])),
            *((n, "quarantined", f) for n, f in result.get("quarantined", {}).items()),
            *((n, "unreachable", []) for n in result.get("unreachable", [])),
        ]
        told = result.get("scheduler", {}).get("nodes", {})
        for node, verdict, findings in sorted(rows):
            first = findings[0] if findings else {}
            _row(
                table,
                node,
                Text(verdict, style=VERDICT_STYLES[verdict]),
                _told(told.get(node)),
                first.get("component", ""),
                first.get("check", ""),
                first.get("observed", ""),
                first.get("expected", ""),
            )
    return table


def scheduler_errors(admission: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`up --admit`: why a rack's admission could not tell the scheduler, one line each."""
    return [
        f"{rack}: the scheduler was not told: {result['scheduler']['error']}"
        for rack, result in sorted(admission.items())
        if (result.get("scheduler") or {}).get("error")
    ]


def _told(outcome: Mapping[str, str] | None) -> str:
    if not outcome:
        return ""
    if outcome.get("outcome") == "missing":
        return "not in the scheduler"
    state, reason = outcome.get("state", ""), outcome.get("reason", "")
    if outcome.get("outcome") == "kept":
        return f"kept {state} by operator: {reason}"
    return f"{state}: {reason}" if reason else state


def admission_table(result: AdmissionResult, plan: Plan) -> Table:
    """`bringup admit`: one row per node judged, one line per finding naming the part, and what
    the scheduler made of the node."""
    title = f"admission run {result.run_id}{' (resumed)' if result.resumed else ''}"
    table = _table(
        title,
        ("node", "sku", "verdict", "scheduler", "component", "check", "observed", "expected"),
        whole={"node": result.verdicts},
    )
    outcomes = result.scheduler.outcomes
    for node, verdict in sorted(result.verdicts.items()):
        sku = plan.by_name[node].sku if node in plan.by_name else ""
        mark = Text(verdict.verdict, style=VERDICT_STYLES[verdict.verdict])
        told = outcomes[node].describe() if node in outcomes else ""
        if not verdict.findings:
            _row(table, node, sku, mark, told, "", "", "", "")
        for i, f in enumerate(verdict.findings):
            first = i == 0
            _row(
                table,
                node if first else "",
                sku if first else "",
                mark if first else "",
                told if first else "",
                f.component,
                f.check,
                f.observed,
                f.expected,
            )
    return table


def domain_table(result: AdmissionResult) -> Table | None:
    """The NVLink domains a run judged, under its policy; None when it judged none."""
    if not result.domains:
        return None
    table = _table("NVLink domains", ("domain", "policy", "status", "healthy", "at fault"))
    for d in result.domains:
        _row(table, d.domain, d.policy, d.status, len(d.healthy), ", ".join(d.faulty))
    return table


def status_table(stack: str, standings: Sequence[NodeStanding], plan: Plan) -> Table:
    """`bringup status`: per rack, each node's state in the ledger, since when, its latest
    findings, and, where a scheduler was read, its state there; where the two disagree, what
    disagrees instead, marked ``!``."""
    known = {s.node: s for s in standings}
    read = any(s.read for s in standings)
    columns = ["rack", "node", "state", "since", "findings", *(["scheduler"] if read else [])]
    table = _table(f"{stack}: node states", columns, whole={"node": [n.name for n in plan.nodes]})
    last_rack = None
    for node in plan.nodes:
        standing = known.get(node.name)
        status = standing.ledger if standing else None
        findings = "; ".join(f"{f.component} {f.check}" for f in status.findings) if status else ""
        cells: list[object] = [
            node.rack if node.rack != last_rack else "",
            node.name,
            status.state if status else "unknown",
            status.since.strftime("%Y-%m-%d %H:%M:%S") if status else "",
            findings,
        ]
        if read:
            flag = standing.disagreement if standing else None
            cell = standing.scheduler_cell() if standing else ""
            cells.append(Text(f"! {flag}", style="red") if flag else cell)
        _row(table, *cells)
        last_rack = node.rack
    return table


def lab_table(stack: str, rows: Sequence[Mapping[str, Any]]) -> Table:
    """`bringup lab status`: nodes, management addresses, sshd, injected faults."""
    table = _table(f"lab {stack}", ("node", "management", "up", "sshd", "faults"))
    for r in rows:
        _row(table, r["node"], r["management"], r["up"], r["sshd"], "; ".join(r["faults"]))
    return table


def kubernetes_nodes_table(stack: str, rows: Sequence[Mapping[str, str]]) -> Table:
    """`bringup lab kubernetes`: each Node's readiness, bringup's condition, taints and cordon,
    as the API server holds them (``bringup.scheduler.kubernetes.node_row``)."""
    columns = ("node", "ready", "bringup.dev/Validated", "taints", "cordoned")
    table = _table(
        f"lab {stack}: Kubernetes nodes", columns, whole={"node": [r["node"] for r in rows]}
    )
    for r in rows:
        _row(table, *(r[c] for c in columns))
    return table


def incidents_table(stack: str, incidents: Sequence[Incident]) -> Table:
    """One row per incident, newest first: what failed, what was done, the evidence."""
    table = _table(
        f"{stack}: incidents",
        (
            "id",
            "node",
            "component",
            "check",
            "observed",
            "status",
            "scheduler",
            "first seen",
            "to drain (s)",
            "jobs",
            "evidence",
        ),
        right=("id", "to drain (s)"),
    )
    for i in incidents:
        after = i.drain_after_s
        _row(
            table,
            i.id,
            i.node,
            f"nvlink-domain:{i.domain} ({i.component})" if i.domain else i.component,
            i.check,
            i.observed,
            Text(i.status, style=INCIDENT_STYLES.get(i.status, "")),
            i.scheduler,
            i.first_seen_at.strftime("%Y-%m-%d %H:%M:%S"),
            "" if after is None else f"{after:.1f}",
            ", ".join(_job(job) for job in i.jobs),
            i.bundle,
        )
    return table


def _job(job: dict[str, str]) -> str:
    """``4711 train-llm (alice)``: a job as a cell shows it."""
    return f"{job.get('id', '?')} {job.get('name', '')} ({job.get('user', '?')})"

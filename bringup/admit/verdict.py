"""Verdicts: from the suite's report to admitted, quarantined or unreachable, per node and domain.

Three steps, each pure:

1. `judge_node`: a node with no failed test is admitted; one the suite could not reach is
   unreachable; any other is quarantined with the findings of its failed tests (a failed test
   without a structured finding still yields one, on `node:<host>`, so nothing is silent).
2. `attribute`: differential attribution, where one test alone cannot say which part is bad.
   - A NIC down whose far end (the leaf port, asked of the fabric) is down too: the cable.
   - Single-node NCCL bandwidth low while every GPU and NVLink check of the node passed: the
     NVLink fabric of its domain (NVSwitches, switch trays, fabric manager), not a GPU.
3. `judge_domains`: an NVLink domain of several nodes (an NVL72 rack) is also judged as a unit
   under an explicit policy. `unit`: every tray healthy, or no tray of the domain is admitted.
   `quorum:N`: at least N healthy trays admit the healthy ones and mark the domain degraded;
   fewer hold them all. A held tray is quarantined with a finding on `nvlink-domain:<domain>`
   that names the trays at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from bringup.access import FarEnd
from bringup.errors import BringupError
from bringup.validation.checks import Check, Concern
from bringup.validation.report import Finding, HostReport

VerdictKind = Literal["admitted", "quarantined", "unreachable"]
DomainStatus = Literal["complete", "degraded", "held"]

NIC_DOWN_CHECKS = frozenset({Check.NIC_STATE, Check.NIC_CARRIER})
LOCAL_CONCERNS = frozenset({Concern.GPU, Concern.NVLINK})
"""Checks of the node's own GPUs and NVLinks: when all passed, low NCCL is the domain's."""


class PolicyError(BringupError, ValueError):
    """A domain policy that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class DomainPolicy:
    """How an NVLink domain of several nodes is admitted: `unit`, or `quorum` of N nodes."""

    kind: Literal["unit", "quorum"] = "unit"
    quorum: int = 0

    @classmethod
    def parse(cls, text: str) -> DomainPolicy:
        if text == "unit":
            return cls("unit")
        found = re.fullmatch(r"quorum:(\d+)", text)
        if found and int(found.group(1)) >= 1:
            return cls("quorum", int(found.group(1)))
        raise PolicyError(
            f"domain policy {text!r}: expected 'unit' or 'quorum:N' with N >= 1 (e.g. quorum:16)"
        )

    def __str__(self) -> str:
        return "unit" if self.kind == "unit" else f"quorum:{self.quorum}"

    def needed(self, members: int) -> int:
        return members if self.kind == "unit" else min(self.quorum, members)


@dataclass(frozen=True, slots=True)
class NodeVerdict:
    """What admission decided about one node in one run."""

    node: str
    verdict: VerdictKind
    findings: tuple[Finding, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DomainVerdict:
    """An NVLink domain judged as a unit."""

    domain: str
    status: DomainStatus
    policy: str
    healthy: tuple[str, ...]
    faulty: tuple[str, ...]


def judge_node(node: str, report: HostReport | None) -> NodeVerdict:
    """The verdict on one node from its part of the suite's report."""
    if report is None:
        return NodeVerdict(node, "unreachable", (), "the suite has no result for this node")
    if report.unreachable:
        finding = Finding(f"node:{node}", Check.NODE_REACHABLE, "unreachable", "reachable over SSH")
        return NodeVerdict(node, "unreachable", (finding,), report.message or "unreachable")
    failed = report.failed
    if not failed:
        if not report.tests:
            finding = Finding(f"node:{node}", Check.SUITE_RAN, "no test ran", "every check run")
            return NodeVerdict(node, "quarantined", (finding,), "no test ran")
        return NodeVerdict(node, "admitted")
    findings: list[Finding] = []
    for test in failed:
        if test.findings:
            findings.extend(test.findings)
        else:
            message = test.message.strip().splitlines()[0][:300] if test.message else test.outcome
            findings.append(Finding(f"node:{node}", test.nodeid, message, "passed"))
    return NodeVerdict(node, "quarantined", tuple(findings), _reason(findings))


def attribute(
    verdict: NodeVerdict,
    report: HostReport | None,
    *,
    domain: str | None = None,
    far_end: FarEnd | None = None,
) -> NodeVerdict:
    """Add the findings that name the part to pull when a check alone points at the wrong one."""
    if verdict.verdict != "quarantined" or report is None:
        return verdict
    added: list[Finding] = []
    if far_end is not None:
        for finding in verdict.findings:
            cable = finding.attributes.get("cable")
            if finding.check in NIC_DOWN_CHECKS and cable and far_end(cable) is False:
                added.append(
                    Finding(
                        f"cable:{cable}",
                        Check.CABLE_CONTINUITY,
                        "down at both ends",
                        "up",
                        f"{finding.component} down; far end "
                        f"{finding.attributes.get('leaf', '?')} port "
                        f"{finding.attributes.get('leaf_port', '?')} down",
                        {k: v for k, v in finding.attributes.items() if k in ("leaf", "leaf_port")},
                    )
                )
    failed_checks = {f.check for f in verdict.findings}
    local_failed = any(_concern(c) in LOCAL_CONCERNS for c in failed_checks)
    local_ran = any(t.module in {f"test_{c}" for c in LOCAL_CONCERNS} for t in report.tests)
    if Check.BURN_IN_NCCL_BUSBW in failed_checks and not local_failed and local_ran and domain:
        nccl = next(f for f in verdict.findings if f.check == Check.BURN_IN_NCCL_BUSBW)
        added.append(
            Finding(
                f"nvlink-domain:{domain}",
                Check.ATTRIBUTION_NCCL_FABRIC,
                nccl.observed,
                nccl.expected,
                "NCCL bus bandwidth low while every GPU and NVLink check of the node passed",
            )
        )
    if not added:
        return verdict
    findings = (*added, *verdict.findings)
    return replace(verdict, findings=findings, reason=_reason(findings))


def judge_domains(
    domains: Mapping[str, Sequence[str]],
    verdicts: Mapping[str, NodeVerdict],
    prior: Mapping[str, str],
    policy: DomainPolicy,
) -> tuple[dict[str, NodeVerdict], list[DomainVerdict]]:
    """Apply the domain policy to the domains this run touched.

    `domains` maps each multi-node NVLink domain to its members; `prior` gives the ledger's state
    of members not judged in this run (only `admitted` counts as healthy).
    """
    result = dict(verdicts)
    judged: list[DomainVerdict] = []
    for domain, members in sorted(domains.items()):
        if len(members) < 2 or not any(m in verdicts for m in members):
            continue
        healthy: list[str] = []
        faulty: list[str] = []
        for member in members:
            state = verdicts[member].verdict if member in verdicts else prior.get(member, "unknown")
            (healthy if state == "admitted" else faulty).append(member)
        needed = policy.needed(len(members))
        if not faulty:
            status: DomainStatus = "complete"
        elif len(healthy) >= needed:
            status = "degraded"
        else:
            status = "held"
        judged.append(DomainVerdict(domain, status, str(policy), tuple(healthy), tuple(faulty)))
        if status != "held":
            continue
        held = Finding(
            f"nvlink-domain:{domain}",
            Check.DOMAIN_UNIT if policy.kind == "unit" else Check.DOMAIN_QUORUM,
            f"{len(healthy)} of {len(members)} nodes healthy",
            f"at least {needed} healthy ({policy})",
            "at fault: " + ", ".join(faulty),
        )
        for member in healthy:
            if member in result:
                result[member] = NodeVerdict(
                    member, "quarantined", (held,), f"domain {domain} held under {policy}"
                )
    return result, judged


def _concern(check: str) -> Concern | None:
    """The concern of a check id read from a report (None for an id this version lacks)."""
    known = Check.known(check)
    return known.concern if known else None


def _reason(findings: Sequence[Finding]) -> str:
    first = findings[0]
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{first.component} {first.check}{more}"

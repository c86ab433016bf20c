"""Admission: burn-in, then the validation suite, then a verdict per node, all in the ledger.

One run judges a set of nodes of a stack, in batches:

1. burn-in (playbooks/burn_in.yml, DCGM diag at the chosen level) on the batch, outputs fetched
   to the controller; a node the playbook cannot reach is judged unreachable right there;
2. the validation suite (tests/validation) on the batch's nodes, in parallel;
3. per node a verdict (`bringup.admit.verdict`), with differential attribution, then the NVLink
   domain policy; each verdict, its findings and the node's new state go to the ledger in one
   transaction.

Every step is recorded before it starts, so a run killed at any point (SIGKILL included) is
resumed by the next `admit` of the same stack and hosts: nodes already judged keep their
verdict, nodes caught mid-validation skip a second burn-in, the others start again. A verdict is
never written twice (the ledger refuses a second one for the same run and node).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bringup.admit.findings import Finding, HostReport
from bringup.admit.ledger import Ledger
from bringup.admit.verdict import (
    DomainPolicy,
    DomainVerdict,
    FarEnd,
    NodeVerdict,
    VerdictKind,
    attribute,
    judge_domains,
    judge_node,
)
from bringup.provision.runner import REPOSITORY, SshSettings, run_playbook

VALIDATING = ("validating", "revalidated")
Suite = Callable[..., dict[str, HostReport]]


@dataclass(frozen=True)
class AdmissionRequest:
    """What to judge and how."""

    stack: str
    hosts: tuple[str, ...]
    inventory: Path
    domains: Mapping[str, Sequence[str]]  # NVLink domain -> member nodes
    policy: DomainPolicy = field(default_factory=DomainPolicy)
    dcgm_level: int = 1
    burn_in: bool = True
    batch: int = 64
    ssh: SshSettings = field(default_factory=SshSettings)
    ssh_config: Path | None = None
    extra_vars: Mapping[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The settings a resumed run must share with the interrupted one."""
        return {
            "policy": str(self.policy),
            "dcgm_level": self.dcgm_level,
            "burn_in": self.burn_in,
        }


@dataclass(frozen=True)
class AdmissionResult:
    """The verdicts of one run (resumed parts included) and its NVLink domains."""

    run_id: str
    verdicts: dict[str, NodeVerdict]
    domains: list[DomainVerdict]
    resumed: bool

    def with_verdict(self, verdict: str) -> list[str]:
        return sorted(n for n, v in self.verdicts.items() if v.verdict == verdict)


def admit(
    request: AdmissionRequest,
    ledger: Ledger,
    work: Path,
    *,
    suite: Suite | None = None,
    far_end: FarEnd | None = None,
    on_phase: Callable[[str, Sequence[str]], None] | None = None,
) -> AdmissionResult:
    """Judge `request.hosts`, resuming the stack's interrupted run when it is the same one."""
    if suite is None:
        from bringup.validation.run import run_suite

        suite = run_suite
    stack = request.stack
    run, resumed = _run(request, ledger)
    domain_of = {m: d for d, members in request.domains.items() for m in members}
    judged = ledger.judged(run.id)
    pending = [h for h in request.hosts if h not in judged]
    for start, batch in enumerate(_batches(pending, domain_of, request.batch)):
        burn_in_dir = work / "burn-in" / run.id
        # a node this run left mid-validation keeps its burn-in outputs; any other is burnt in
        to_burn = [h for h in batch if not _validating_in(ledger, stack, h, run.id)]
        verdicts: dict[str, NodeVerdict] = {}
        if request.burn_in and to_burn:
            for host in to_burn:
                if _state(ledger, stack, host) is None:
                    ledger.record_state(stack, host, "provisioned", run_id=run.id)
                ledger.record_state(stack, host, "burn-in", run_id=run.id)
            if on_phase:
                on_phase("burn-in", to_burn)
            verdicts |= _burn_in(request, to_burn, burn_in_dir, work)
        to_validate = [h for h in batch if h not in verdicts]
        for host in to_validate:
            if _validating_in(ledger, stack, host, run.id):
                continue
            state = _state(ledger, stack, host)
            if state is None:
                ledger.record_state(stack, host, "provisioned", run_id=run.id)
            ledger.record_state(stack, host, _validating(ledger, stack, host), run_id=run.id)
        if to_validate:
            if on_phase:
                on_phase("validate", to_validate)
            reports = suite(
                request.inventory,
                to_validate,
                report=work / "reports" / f"{run.id}-{start}.json",
                junit=work / "reports" / f"{run.id}-{start}.xml",
                burn_in_dir=burn_in_dir if request.burn_in else None,
                ssh_config=request.ssh_config,
                extra_args=[f"--bringup-diag-level={request.dcgm_level}"],
            )
            for host in to_validate:
                report = reports.get(host)
                verdict = judge_node(host, report)
                verdicts[host] = attribute(
                    verdict, report, domain=domain_of.get(host), far_end=far_end
                )
        prior = {n.node: n.state for n in ledger.status(stack) if n.node not in verdicts}
        verdicts, _ = judge_domains(request.domains, verdicts, prior, request.policy)
        for host in sorted(verdicts):
            v = verdicts[host]
            ledger.record_verdict(run.id, stack, host, v.verdict, v.findings, v.reason)
    ledger.finish_run(run.id)
    recorded = ledger.verdicts(run.id)
    final = {
        n: NodeVerdict(n, cast(VerdictKind, v.verdict), v.findings, _reason(v.findings))
        for n, v in recorded.items()
    }
    prior = {n.node: n.state for n in ledger.status(stack) if n.node not in final}
    _, domains = judge_domains(request.domains, final, prior, request.policy)
    return AdmissionResult(run.id, final, domains, resumed)


def _batches(hosts: Sequence[str], domain_of: Mapping[str, str], size: int) -> list[list[str]]:
    """Batches of at most `size` hosts that never split an NVLink domain (judged as a unit)."""
    groups: dict[str, list[str]] = {}
    for host in hosts:
        groups.setdefault(domain_of.get(host, host), []).append(host)
    batches: list[list[str]] = []
    for group in groups.values():
        if batches and len(batches[-1]) + len(group) <= max(1, size):
            batches[-1].extend(group)
        else:
            batches.append(list(group))
    return batches


def _run(request: AdmissionRequest, ledger: Ledger) -> tuple[Any, bool]:
    """The stack's unfinished run when it judges the same hosts the same way, else a new one."""
    previous = ledger.unfinished_run(request.stack)
    if previous is not None:
        if sorted(previous.hosts) == sorted(request.hosts) and previous.settings == (
            request.settings()
        ):
            return previous, True
        ledger.finish_run(previous.id, "failed")
    return ledger.start_run(request.stack, request.hosts, request.settings()), False


def _state(ledger: Ledger, stack: str, node: str) -> str | None:
    status = ledger.node_state(stack, node)
    return status.state if status else None


def _validating_in(ledger: Ledger, stack: str, node: str, run_id: str) -> bool:
    """Whether this run already started validating the node (it was killed meanwhile)."""
    status = ledger.node_state(stack, node)
    return bool(status and status.state in VALIDATING and status.run_id == run_id)


def _validating(ledger: Ledger, stack: str, node: str) -> str:
    """`revalidated` for a node repaired since its last verdict, `validating` otherwise."""
    for _, state, _, _ in reversed(ledger.history(stack, node)):
        if state == "repaired":
            return "revalidated"
        if state in ("admitted", "quarantined", "unreachable"):
            return "validating"
    return "validating"


def _burn_in(
    request: AdmissionRequest, hosts: Sequence[str], out: Path, work: Path
) -> dict[str, NodeVerdict]:
    """Run the burn-in playbook; verdicts for the hosts it could not burn in."""
    out.mkdir(parents=True, exist_ok=True)  # the role replaces each node's own folder
    result = run_playbook(
        REPOSITORY / "playbooks" / "burn_in.yml",
        inventory=request.inventory,
        private_data_dir=work / "runs",
        hosts=list(hosts),
        ssh=request.ssh,
        extra_vars={
            **request.extra_vars,
            "burn_in_dcgm_diag_level": request.dcgm_level,
            "burn_in_fetch_dir": str(out),
        },
    )
    verdicts: dict[str, NodeVerdict] = {}
    for host in hosts:
        outcome = result.hosts.get(host)
        if outcome is None or outcome.status == "unreachable":
            message = outcome.message if outcome else "not in the burn-in run"
            finding = Finding(f"node:{host}", "node.reachable", "unreachable", "reachable over SSH")
            verdicts[host] = NodeVerdict(host, "unreachable", (finding,), message or "")
        elif outcome.status == "failed":
            finding = Finding(
                f"node:{host}",
                "burn_in.playbook",
                f"task {outcome.failed_task!r} failed: {outcome.message}",
                "burn-in completes",
                str(result.artifacts),
            )
            verdicts[host] = NodeVerdict(host, "quarantined", (finding,), "burn-in failed")
    return verdicts


def _reason(findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{findings[0].component} {findings[0].check}{more}"

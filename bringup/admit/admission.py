"""Admission: burn-in, then the validation suite, then a verdict per node, all in the ledger.

One run judges a set of nodes of a stack, in batches:

1. burn-in (playbooks/burn_in.yml, DCGM diag at the chosen level) on the batch, outputs fetched
   to the controller; a node the playbook cannot reach is judged unreachable right there;
2. the validation suite (tests/validation) on the batch's nodes, in parallel; a node repaired
   since its last verdict is revalidated, and the suite is given the time of its latest repair
   mark, before which the driver's Xids do not count against it (`bringup.validation.repaired`);
3. per node a verdict (`bringup.admit.verdict`), with differential attribution, then the NVLink
   domain policy; each verdict, its findings and the node's new state go to the ledger in one
   transaction.

The scheduler is told through the Access's adapter (`bringup.scheduler.adapter`): when the run
starts, every node it will judge that nobody holds yet is held, "validation pending"; after each
batch, an admitted node is released and any other held with the reason of its verdict. Holds
someone else made are never lifted or overwritten. A scheduler that cannot be told does not stop
the run: the verdicts are recorded all the same, the result says the scheduler was not told and
why, and the next run of those nodes tells it.

Every step is recorded before it starts, so a run killed at any point (SIGKILL included) is
resumed by the next `admit` of the same stack and hosts: nodes already judged keep their
verdict, nodes caught mid-validation skip a second burn-in, the others start again. A verdict is
never written twice (the ledger refuses a second one for the same run and node).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from pydantic import Field, JsonValue

from bringup.access import Access, FarEnd
from bringup.admit.ledger import Ledger, LedgerError, Owner, Run
from bringup.admit.verdict import (
    DomainPolicy,
    DomainVerdict,
    NodeVerdict,
    VerdictKind,
    attribute,
    judge_domains,
    judge_node,
)
from bringup.plan.scheduler import LABELS_VARIABLE, hostlist
from bringup.provision.runner import ProvisionRequest, run_playbook
from bringup.scheduler.adapter import (
    NodeOutcome,
    SchedulerAdapter,
    SchedulerError,
    SchedulerResult,
    adapter_for,
    bringup_reason,
)
from bringup.validation.checks import Check
from bringup.validation.repaired import write_repaired
from bringup.validation.report import Finding, HostReport, read_report
from bringup.wire import Wire
from bringup.workspace import REPOSITORY

VALIDATING = ("validating", "revalidated")
DOMAIN_HOLDS = frozenset({Check.DOMAIN_UNIT, Check.DOMAIN_QUORUM})
"""The checks of a healthy tray held because its NVLink domain is."""
Suite = Callable[..., dict[str, HostReport]]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader where PyYAML has it: a host_vars file loads ten times faster."""


class AdmissionRequest(Wire):
    """What to judge and how, and where the run keeps its files."""

    stack: str
    hosts: tuple[str, ...]
    inventory: Path
    work: Path
    """The stack's admission folder: burn-in outputs, suite reports, playbook runs."""
    domains: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """NVLink domains of several nodes: domain -> member nodes."""
    policy: DomainPolicy = DomainPolicy()
    dcgm_level: int = 1
    burn_in: bool = True
    batch: int = 64
    via: Literal["ssh", "scheduler"] = "ssh"
    """How the nodes' burn-in and suite run: from this controller over SSH, or as the
    scheduler's jobs on the nodes themselves (fleet scale; `bringup.admit.on_node`)."""
    access: Access = Access()
    repository: Path = REPOSITORY
    """Where playbooks/ and tests/validation are."""

    def settings(self) -> dict[str, JsonValue]:
        """The settings a resumed run must share with the interrupted one."""
        return {
            "policy": str(self.policy),
            "dcgm_level": self.dcgm_level,
            "burn_in": self.burn_in,
            "via": self.via,
        }


class SchedulerReport(Wire):
    """What a run told the scheduler: per node the outcome, or why the scheduler was not told."""

    adapter: str = "none"
    described: str = "none"
    """The scheduler and how it was reached, as its adapter describes it."""
    outcomes: dict[str, NodeOutcome] = Field(default_factory=dict)
    error: str | None = None
    """Why the scheduler was not told (all of it, or the part after the failure)."""

    def counts(self) -> dict[str, int]:
        """How many nodes had each outcome."""
        counted: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counted[outcome.outcome] = counted.get(outcome.outcome, 0) + 1
        return dict(sorted(counted.items()))


class AdmissionResult(Wire):
    """The verdicts of one run (resumed parts included), its NVLink domains, and what the
    scheduler was told."""

    run_id: str
    verdicts: dict[str, NodeVerdict]
    domains: tuple[DomainVerdict, ...]
    resumed: bool
    scheduler: SchedulerReport = SchedulerReport()

    def with_verdict(self, verdict: str) -> list[str]:
        """The nodes with `verdict`, sorted."""
        return sorted(n for n, v in self.verdicts.items() if v.verdict == verdict)

    def summary(self) -> dict[str, Any]:
        """The verdicts as plain data: the Admission resource's output, `--format json`."""
        return {
            "run": self.run_id,
            "admitted": self.with_verdict("admitted"),
            "quarantined": {
                n: [f.to_json() for f in v.findings]
                for n, v in sorted(self.verdicts.items())
                if v.verdict == "quarantined"
            },
            "unreachable": self.with_verdict("unreachable"),
            "domains": [
                {
                    "domain": d.domain,
                    "status": d.status,
                    "policy": d.policy,
                    "faulty": list(d.faulty),
                }
                for d in self.domains
            ],
            "scheduler": {
                "adapter": self.scheduler.adapter,
                "told": self.scheduler.error is None,
                "error": self.scheduler.error,
                "nodes": {
                    n: {"outcome": o.outcome, "state": o.state, "reason": o.reason}
                    for n, o in sorted(self.scheduler.outcomes.items())
                },
            },
        }


class AdmissionCall(Wire):
    """What ``python -m bringup.admit`` reads: a request and the SQLite ledger to write to
    (a PostgreSQL ledger is named by BRINGUP_LEDGER_URL in the environment instead)."""

    request: AdmissionRequest
    ledger: Path


def admit_in_process(request: AdmissionRequest, ledger: Path) -> AdmissionResult:
    """`admit` in a process of its own (``python -m bringup.admit``), JSON both ways."""
    done = subprocess.run(
        [sys.executable, "-m", "bringup.admit"],
        input=AdmissionCall(request=request, ledger=ledger).to_json(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"admission could not run: {done.stderr.strip()[-1500:]}")
    return AdmissionResult.from_json(done.stdout)


def admit(
    request: AdmissionRequest,
    ledger: Ledger,
    *,
    suite: Suite | None = None,
    far_end: FarEnd | None = None,
    scheduler: SchedulerAdapter | None = None,
    on_phase: Callable[[str, Sequence[str]], None] | None = None,
) -> AdmissionResult:
    """Judge `request.hosts`, resuming the stack's interrupted run when it is the same one.

    `suite` runs the validation suite (default: bringup.validation.run_suite); `far_end` and
    `scheduler` override the Access's far-end and scheduler adapters.
    """
    if suite is None:
        from bringup.validation.run import run_suite

        suite = run_suite
    if far_end is None:
        far_end = request.access.far_end_view()
    if scheduler is None:
        scheduler = adapter_for(request.access.scheduler)
    stack, work = request.stack, request.work
    run, resumed = _run(request, ledger)
    domain_of = {m: d for d, members in request.domains.items() for m in members}
    judged = ledger.judged(run.id)
    pending = [h for h in request.hosts if h not in judged]
    told = _Teller(scheduler, run.id)
    if scheduler.takes_labels:
        told.label(planned_labels(request.inventory, request.hosts))
    told.hold_pending(pending)
    for start, batch in enumerate(_batches(pending, domain_of, request.batch)):
        burn_in_dir = work / "burn-in" / run.id
        # a node this run left mid-validation keeps its burn-in outputs; any other is burnt in
        to_burn = [h for h in batch if not _validating_in(ledger, stack, h, run.id)]
        verdicts: dict[str, NodeVerdict] = {}
        if request.via == "scheduler":
            for host in to_burn if request.burn_in else ():
                if _state(ledger, stack, host) is None:
                    ledger.record_state(stack, host, "provisioned", run_id=run.id)
                ledger.record_state(stack, host, "burn-in", run_id=run.id)
            if on_phase:
                on_phase("burn-in and validate on the nodes", batch)
            repaired = _repaired_file(ledger, request, run.id, start, batch)
            early, reports = _on_nodes(request, run.id, start, batch, to_burn, repaired)
            verdicts |= early
            for host in reports:
                if not _validating_in(ledger, stack, host, run.id):
                    if _state(ledger, stack, host) is None:
                        ledger.record_state(stack, host, "provisioned", run_id=run.id)
                    ledger.record_state(
                        stack, host, ledger.validating_state(stack, host), run_id=run.id
                    )
                verdict = judge_node(host, reports[host])
                verdicts[host] = attribute(
                    verdict, reports[host], domain=domain_of.get(host), far_end=far_end
                )
        else:
            if request.burn_in and to_burn:
                for host in to_burn:
                    if _state(ledger, stack, host) is None:
                        ledger.record_state(stack, host, "provisioned", run_id=run.id)
                    ledger.record_state(stack, host, "burn-in", run_id=run.id)
                if on_phase:
                    on_phase("burn-in", to_burn)
                verdicts |= _burn_in(request, to_burn, burn_in_dir)
            to_validate = [h for h in batch if h not in verdicts]
            for host in to_validate:
                if _validating_in(ledger, stack, host, run.id):
                    continue
                state = _state(ledger, stack, host)
                if state is None:
                    ledger.record_state(stack, host, "provisioned", run_id=run.id)
                ledger.record_state(
                    stack, host, ledger.validating_state(stack, host), run_id=run.id
                )
            if to_validate:
                if on_phase:
                    on_phase("validate", to_validate)
                repaired = _repaired_file(ledger, request, run.id, start, to_validate)
                reports = suite(
                    request.inventory,
                    to_validate,
                    suite=request.repository / "tests" / "validation",
                    report=work / "reports" / f"{run.id}-{start}.json",
                    junit=work / "reports" / f"{run.id}-{start}.xml",
                    burn_in_dir=burn_in_dir if request.burn_in else None,
                    ssh_config=request.access.ssh_config,
                    repaired=repaired,
                    extra_args=[f"--bringup-diag-level={request.dcgm_level}"],
                )
                for host in to_validate:
                    report = reports.get(host)
                    verdict = judge_node(host, report)
                    verdicts[host] = attribute(
                        verdict, report, domain=domain_of.get(host), far_end=far_end
                    )
        prior = {n.node: n.state for n in ledger.status(stack) if n.node not in verdicts}
        verdicts, judged_domains = judge_domains(request.domains, verdicts, prior, request.policy)
        for host in sorted(verdicts):
            v = verdicts[host]
            ledger.record_verdict(run.id, stack, host, v.verdict, v.findings, v.reason)
        told.verdicts(verdicts, judged_domains)
    ledger.finish_run(run.id)
    recorded = ledger.verdicts(run.id)
    final = {
        n: NodeVerdict(n, cast(VerdictKind, v.verdict), v.findings, _reason(v.findings))
        for n, v in recorded.items()
    }
    prior = {n.node: n.state for n in ledger.status(stack) if n.node not in final}
    _, domains = judge_domains(request.domains, final, prior, request.policy)
    # the verdicts of a resumed run's first part, judged by the process that was interrupted
    told.verdicts({n: v for n, v in final.items() if n not in told.judged}, domains)
    return AdmissionResult(
        run_id=run.id,
        verdicts=final,
        domains=tuple(domains),
        resumed=resumed,
        scheduler=told.report(),
    )


class _Teller:
    """Tells the scheduler what one run decides; after a failure, nothing more this run."""

    def __init__(self, adapter: SchedulerAdapter, run_id: str) -> None:
        self.adapter = adapter
        self.run_id = run_id
        self.outcomes: dict[str, NodeOutcome] = {}
        self.judged: set[str] = set()
        self.error: str | None = None

    def label(self, labels: Mapping[str, Mapping[str, str]]) -> None:
        """Give the nodes the plan's labels (a scheduler that reads topology from its own
        configuration, as Slurm does, takes none)."""

        def label() -> SchedulerResult:
            self.adapter.label(labels)
            return SchedulerResult()

        if labels:
            self._tell(label)

    def hold_pending(self, hosts: Sequence[str]) -> None:
        """Hold the hosts nobody holds yet while they are validated."""
        reason = bringup_reason("validation pending", self.run_id)

        def hold() -> SchedulerResult:
            current = self.adapter.nodes(hosts)
            free = [h for h in hosts if h in current and not current[h].held]
            return self.adapter.hold({reason: free})

        if hosts:
            self._tell(hold)

    def verdicts(
        self, verdicts: Mapping[str, NodeVerdict], domains: Sequence[DomainVerdict]
    ) -> None:
        """Release the admitted nodes; hold the others with the reason of their verdict."""
        if not verdicts:
            return
        self.judged |= set(verdicts)
        holds, admitted = scheduler_actions(verdicts, domains, self.run_id)
        if holds:
            self._tell(lambda: self.adapter.hold(holds))
        if admitted:
            self._tell(lambda: self.adapter.release(admitted))

    def report(self) -> SchedulerReport:
        """What the scheduler was told, or why not."""
        return SchedulerReport(
            adapter=self.adapter.name,
            described=self.adapter.describe(),
            outcomes=dict(sorted(self.outcomes.items())),
            error=self.error,
        )

    def _tell(self, action: Callable[[], SchedulerResult]) -> None:
        if self.error is not None:
            return
        try:
            self.outcomes |= action().outcomes
        except SchedulerError as error:
            self.error = " ".join(error.lines())


def scheduler_actions(
    verdicts: Mapping[str, NodeVerdict], domains: Sequence[DomainVerdict], run_id: str
) -> tuple[dict[str, list[str]], list[str]]:
    """What the scheduler is told of `verdicts`: nodes to hold by reason, and nodes to release."""
    held_domains = {d.domain: d for d in domains if d.status == "held"}
    holds: dict[str, list[str]] = {}
    admitted: list[str] = []
    for node, verdict in sorted(verdicts.items()):
        if verdict.verdict == "admitted":
            admitted.append(node)
        else:
            holds.setdefault(hold_reason(verdict, held_domains, run_id), []).append(node)
    return holds, admitted


def hold_reason(
    verdict: NodeVerdict, held_domains: Mapping[str, DomainVerdict], run_id: str
) -> str:
    """The scheduler's reason for holding a node that was not admitted: unreachable; the NVLink
    domain held and its trays at fault; else the first finding's component and check."""
    if verdict.verdict == "unreachable":
        return bringup_reason("unreachable", run_id)
    first = verdict.findings[0] if verdict.findings else None
    if first is not None and first.check in DOMAIN_HOLDS:
        domain = held_domains.get(first.component.removeprefix("nvlink-domain:"))
        if domain is not None:
            faulty = hostlist(list(domain.faulty))
            return bringup_reason(f"nvlink domain {domain.domain} held: {faulty}", run_id)
    return bringup_reason(_reason(verdict.findings) or verdict.verdict, run_id)


def planned_labels(inventory: Path, hosts: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each host's scheduler labels as the plan gives them, read from its rendered host_vars
    (``bringup_kubernetes_labels``; `inventory` is the inventory's hosts.yml); a host without
    a host_vars file has none."""
    labels: dict[str, dict[str, str]] = {}
    for host in hosts:
        path = inventory.parent / "host_vars" / f"{host}.yml"
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except FileNotFoundError:
            continue
        planned = data.get(LABELS_VARIABLE) if isinstance(data, dict) else None
        if isinstance(planned, dict):
            labels[host] = {str(k): str(v) for k, v in planned.items()}
    return labels


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


def _run(request: AdmissionRequest, ledger: Ledger) -> tuple[Run, bool]:
    """The run to judge `request` in, and whether it resumes an interrupted one.

    Only the stack's unfinished runs that share a host with the request matter: one over other
    hosts goes on beside this one. A run whose process may still be running is never touched,
    and the request is refused. Of the abandoned ones (their process gone), the latest over the
    same hosts with the same settings is resumed, and the others are closed as failed.
    """
    me, hosts = Owner.current(), sorted(request.hosts)
    shared = [r for r in ledger.unfinished_runs(request.stack) if set(r.hosts) & set(hosts)]
    busy = next((r for r in shared if not _abandoned(r, me)), None)
    if busy is not None:
        raise LedgerError(_busy(busy, hosts))
    same = [r for r in shared if sorted(r.hosts) == hosts and r.settings == request.settings()]
    resume = same[-1] if same else None
    for run in shared:
        if run is not resume:
            ledger.abandon_run(run.id, run.owner)
    if resume is not None:
        claimed = ledger.claim_run(resume.id, resume.owner, me)
        if claimed is not None:
            return claimed, True
    # a run taken over by another process meanwhile makes this start refuse
    run = ledger.start_run(
        request.stack, request.hosts, request.settings(), owner=me, exclusive=True
    )
    return run, False


def _abandoned(run: Run, me: Owner) -> bool:
    """Whether no process judges `run` any more: its owner is gone, or is this very process
    (which is here, not judging it)."""
    return run.owner is None or run.owner == me or run.owner.is_gone()


def _busy(run: Run, hosts: Sequence[str]) -> str:
    shared = ", ".join(sorted(set(run.hosts) & set(hosts)))
    return (
        f"{run.stack}: run {run.id} ({run.owner}, started {run.started_at:%Y-%m-%d %H:%M:%S} "
        f"UTC) is unfinished and judges {shared}: it may still be running, so it is left "
        "alone; wait for it to end, or admit other nodes"
    )


def _state(ledger: Ledger, stack: str, node: str) -> str | None:
    status = ledger.node_state(stack, node)
    return status.state if status else None


def _validating_in(ledger: Ledger, stack: str, node: str, run_id: str) -> bool:
    """Whether this run already started validating the node (it was killed meanwhile)."""
    status = ledger.node_state(stack, node)
    return bool(status and status.state in VALIDATING and status.run_id == run_id)


def _repaired_file(
    ledger: Ledger, request: AdmissionRequest, run_id: str, start: int, hosts: Sequence[str]
) -> Path | None:
    """Write, beside the batch's report, the time of the latest repair mark of each of `hosts`
    repaired since its last verdict (the suite's --bringup-repaired file); None when none was."""
    repaired = {
        host: moment
        for host in hosts
        if (moment := ledger.pending_repair(request.stack, host)) is not None
    }
    if not repaired:
        return None
    return write_repaired(request.work / "reports" / f"{run_id}-{start}.repaired.json", repaired)


def _burn_in(request: AdmissionRequest, hosts: Sequence[str], out: Path) -> dict[str, NodeVerdict]:
    """Run the burn-in playbook; verdicts for the hosts it could not burn in."""
    out.mkdir(parents=True, exist_ok=True)  # the role replaces each node's own folder
    playbook = ProvisionRequest(
        playbook=request.repository / "playbooks" / "burn_in.yml",
        inventory=request.inventory,
        private_data_dir=request.work / "runs",
        hosts=tuple(hosts),
        access=request.access,
        extra_vars={"burn_in_dcgm_diag_level": request.dcgm_level, "burn_in_fetch_dir": str(out)},
        repository=request.repository,
    )
    result = run_playbook(playbook)
    verdicts: dict[str, NodeVerdict] = {}
    for host in hosts:
        outcome = result.hosts.get(host)
        if outcome is None or outcome.status == "unreachable":
            message = outcome.message if outcome else "not in the burn-in run"
            finding = Finding(
                f"node:{host}", Check.NODE_REACHABLE, "unreachable", "reachable over SSH"
            )
            verdicts[host] = NodeVerdict(host, "unreachable", (finding,), message or "")
        elif outcome.status == "failed":
            finding = Finding(
                f"node:{host}",
                Check.BURN_IN_PLAYBOOK,
                f"task {outcome.failed_task!r} failed: {outcome.message}",
                "burn-in completes",
                str(result.artifacts),
            )
            verdicts[host] = NodeVerdict(host, "quarantined", (finding,), "burn-in failed")
    return verdicts


def _on_nodes(
    request: AdmissionRequest,
    run_id: str,
    start: int,
    batch: Sequence[str],
    to_burn: Sequence[str],
    repaired: Path | None,
) -> tuple[dict[str, NodeVerdict], dict[str, HostReport]]:
    """Burn in (the nodes of `to_burn`) and validate `batch` as the scheduler's jobs on the
    nodes: verdicts for the nodes that could not be, and the suite's report of the others.
    Every node is given the file of repair times (`repaired`); each looks itself up in it."""
    from bringup.admit.on_node import MARKER
    from bringup.scheduler.jobs import runner_for

    runner = runner_for(request.access.scheduler)
    reports_dir = request.work / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    burn = set(to_burn) if request.burn_in else set()
    verdicts: dict[str, NodeVerdict] = {}
    reports: dict[str, HostReport] = {}
    groups = [[h for h in batch if h in burn], [h for h in batch if h not in burn]]
    for group, burn_in in zip(groups, (True, False), strict=True):
        if not group:
            continue
        argv = [
            *(request.access.node_python or [sys.executable]), "-m", "bringup.admit.on_node",
            f"--inventory={request.inventory}", f"--repository={request.repository}",
            f"--work={request.work / 'on-node' / run_id}", f"--level={request.dcgm_level}",
            f"--extra-vars={json.dumps(request.access.extra_vars)}",
            *(["--burn-in"] if burn_in else []),
            *([f"--repaired={repaired}"] if repaired is not None else []),
        ]  # fmt: skip
        runs = runner.run_on(
            group,
            argv,
            label=f"bringup-{run_id}",
            marker=MARKER,
            hold=bringup_reason("validation pending", run_id),
        )
        for host in group:
            if host not in runs.outputs:
                why = runs.missing.get(host, "printed no report")
                finding = Finding(
                    f"node:{host}", Check.NODE_REACHABLE, why, "the scheduler runs its job"
                )
                verdicts[host] = NodeVerdict(host, "unreachable", (finding,), why)
                continue
            line = json.loads(runs.outputs[host])
            burnt = line.get("burn_in") or {}
            if not burnt.get("ok", True):
                finding = Finding(
                    f"node:{host}",
                    Check.BURN_IN_PLAYBOOK,
                    f"burn-in failed on the node: {burnt.get('message', '')}",
                    "burn-in completes",
                )
                verdicts[host] = NodeVerdict(host, "quarantined", (finding,), "burn-in failed")
                continue
            document = line.get("report") or {}
            if "error" in document:
                finding = Finding(
                    f"node:{host}", Check.NODE_REACHABLE, document["error"], "a suite report"
                )
                verdicts[host] = NodeVerdict(host, "unreachable", (finding,), document["error"])
                continue
            path = reports_dir / f"{run_id}-{start}-{host}.json"
            path.write_text(json.dumps(document), encoding="utf-8")
            found = read_report(path)
            reports[host] = found.get(host) or HostReport(
                host, unreachable=True, message="the node's report names another host"
            )
    return verdicts, reports


def _reason(findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{findings[0].component} {findings[0].check}{more}"

"""`bringup watch`: the controller's side of the in-service loop.

Every node checks itself (``bringup health``, as Slurm's HealthCheckProgram and Epilog) and sends
a failing verdict here. The watch decides, one verdict at a time:

1. A node not in service (never admitted, being provisioned or judged) is not the watch's: its
   verdict is answered ``ignored``, so a node half-way through provisioning is never drained for
   a daemon not yet installed.
2. A failure opens an **incident** in the ledger (node, component, check, observed, expected,
   the first failing observation, the jobs Slurm ran there) and keeps the raw outputs the node
   sent as the incident's evidence bundle (``.state/incidents/<stack>/<id>/``). A later verdict
   of the same node folds into its open incident.
3. Half or more of an NVLink domain failing names the domain (its switch trays, the NVLink
   fabric), not each tray.
4. The **circuit breaker** (:mod:`bringup.health.breaker`) holds the drain when too much of the
   cluster, a SKU or a domain has been drained within its window: a bad check or a driver
   rollout must not empty the cluster. A held incident is recorded with why, and said loudly.
5. Otherwise the node is drained with ``bringup: <component> <check> (incident <id>)`` and moves
   from admitted to quarantined. A node someone else drained keeps that drain and its reason.

The decisions are serialised (one lock): two verdicts arriving together are counted against the
breaker one after the other. Each opens the ledger for its own use, so the watch never holds a
connection across requests.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO

from bringup.admit.ledger import Ledger
from bringup.atomic import write_atomic
from bringup.health.breaker import BreakerSettings, Fleet, decide, escalation
from bringup.health.report import HEADER, MAX_BODY, ReportError, Sender, digest, unmunge
from bringup.health.verdict import HealthVerdict, VerdictError
from bringup.scheduler.adapter import OWNER, REASON_LIMIT, SchedulerAdapter, SchedulerError

log = logging.getLogger("bringup.watch")

EVIDENCE_FILE_LIMIT = 256 * 1024
"""The most of one raw output kept in a bundle."""
JOB_LOOKBACK_S = 120
"""Jobs that ended this long before the first failing observation still count as the
incident's: the job a failing part killed ends a moment before the epilog's check."""

LedgerOpener = Callable[[], AbstractContextManager[Ledger]]
JobReader = Callable[[str], list[dict[str, str]]]


@dataclass(frozen=True)
class Decision:
    """What the watch did with one verdict: the answer the node gets."""

    action: str
    """ignored | healthy | drained | held | kept | missing | known | failed"""
    incident: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        return {"action": self.action, "incident": self.incident, "reason": self.reason}


class Watch:
    """The decisions of one stack's watch, over its ledger, scheduler and plan."""

    def __init__(
        self,
        stack: str,
        fleet: Fleet,
        addresses: Mapping[str, str],
        ledger: LedgerOpener,
        scheduler: SchedulerAdapter,
        bundles: Path,
        settings: BreakerSettings,
        jobs: JobReader | None = None,
        local_addresses: frozenset[str] = frozenset({"127.0.0.1"}),
    ) -> None:
        self.stack = stack
        self.fleet = fleet
        self.addresses = dict(addresses)
        self.ledger = ledger
        self.scheduler = scheduler
        self.bundles = bundles
        self.settings = settings
        self.jobs = jobs or (lambda node: [])
        self.local_addresses = local_addresses
        self._lock = threading.Lock()

    def check_sender(self, node: str, sender: Sender) -> None:
        """ReportError unless `sender` may report on `node`: root on the node's own address, or
        root on the controller."""
        if node not in self.addresses:
            raise ReportError(f"node {node!r}: not in stack {self.stack!r}")
        if sender.uid != 0:
            raise ReportError(f"node {node}: the verdict was sent by uid {sender.uid}, not root")
        if sender.address != self.addresses[node] and sender.address not in self.local_addresses:
            raise ReportError(
                f"node {node}: the verdict comes from {sender.address}, not from the node "
                f"({self.addresses[node]}) or the controller"
            )

    def receive(self, verdict: HealthVerdict) -> Decision:
        """Act on one verdict; serialised with every other."""
        with self._lock:
            return self._receive(verdict)

    def _receive(self, verdict: HealthVerdict) -> Decision:
        if not verdict.drain:
            return Decision("healthy")
        with self.ledger() as ledger:
            status = ledger.node_state(self.stack, verdict.node)
            state = status.state if status is not None else None
            if state not in ("admitted", "quarantined"):
                return Decision("ignored", reason=f"{verdict.node} is {state or 'unknown'}")
            unclosed = ledger.incidents(self.stack, node=verdict.node, status=("open", "held"))
            if state == "quarantined" and not unclosed:
                return Decision("ignored", reason=f"{verdict.node} is out already (quarantined)")
            incident, new = ledger.open_incident(
                self.stack,
                verdict.node,
                findings=[f.finding for f in verdict.findings],
                first_seen=verdict.observed_at,
                trigger=verdict.trigger.value,
                action=verdict.action.value,
                jobs=self._jobs(verdict.node, verdict.observed_at),
                bundle="",
            )
            if new:
                bundle = self._keep_bundle(incident.id, verdict)
                ledger.update_incident(incident.id, bundle=str(bundle))
            elif incident.drained_at is not None or incident.scheduler.startswith("kept"):
                return Decision("known", incident.id)
            failing = {i.node for i in ledger.incidents(self.stack, status=("open", "held"))}
            domain = escalation(verdict.node, failing, self.fleet)
            if domain is not None and not incident.domain:
                ledger.update_incident(incident.id, domain=domain)
                log.warning(
                    "%s: half or more of NVLink domain %s failing: the domain is the part "
                    "(switch trays, NVLink fabric)",
                    verdict.node,
                    domain,
                )
            since = datetime.now(UTC) - timedelta(seconds=self.settings.window_s)
            # nodes drained in the window and not back in service since (a repaired node no
            # longer counts against the cluster)
            drained = {
                i.node for i in ledger.drained_since(self.stack, since) if i.status != "closed"
            }
            decision = decide(verdict.node, drained, self.fleet, self.settings)
            if not decision.drain:
                ledger.update_incident(
                    incident.id,
                    status="held",
                    breaker=decision.reason,
                    scheduler="held by circuit breaker",
                )
                log.error("CIRCUIT BREAKER OPEN: %s not drained: %s", verdict.node, decision.reason)
                return Decision("held", incident.id, decision.reason)
            primary = f"nvlink-domain:{domain}" if domain else incident.component
            reason = drain_reason(primary, incident.check, incident.id)
            return self._drain(ledger, incident.id, verdict.node, reason)

    def _drain(self, ledger: Ledger, incident: int, node: str, reason: str) -> Decision:
        try:
            outcome = self.scheduler.hold({reason: [node]}).outcomes[node]
        except SchedulerError as error:
            said = " ".join(error.lines())
            ledger.update_incident(incident, status="open", scheduler=f"not told: {said}")
            log.error("%s: incident %s: the scheduler was not told: %s", node, incident, said)
            return Decision("failed", incident, said)
        if outcome.outcome == "kept":
            told = f"kept drained by operator: {outcome.reason}"
            ledger.update_incident(incident, status="open", scheduler=told)
            ledger.quarantine_in_service(self.stack, node, incident, reason)
            log.warning("%s: incident %s: %s", node, incident, told)
            return Decision("kept", incident, outcome.reason)
        if outcome.outcome == "missing":
            ledger.update_incident(incident, status="open", scheduler="not in the scheduler")
            ledger.quarantine_in_service(self.stack, node, incident, reason)
            return Decision("missing", incident)
        ledger.update_incident(
            incident, status="open", scheduler="drained", drained_at=datetime.now(UTC)
        )
        ledger.quarantine_in_service(self.stack, node, incident, reason)
        log.warning("%s: drained: %s", node, reason)
        return Decision("drained", incident, reason)

    def _jobs(self, node: str, first_seen: datetime) -> list[dict[str, str]]:
        try:
            jobs = self.jobs(node)
        except SchedulerError as error:
            log.warning("%s: the jobs on the node could not be read: %s", node, error)
            return []
        cutoff = first_seen - timedelta(seconds=JOB_LOOKBACK_S)
        return [j for j in jobs if (_ended(j) or cutoff) >= cutoff]  # still running, or recent

    def _keep_bundle(self, incident: int, verdict: HealthVerdict) -> Path:
        """The incident's evidence: the verdict, and each raw output as a file of its own."""
        folder = self.bundles / str(incident)
        folder.mkdir(parents=True, exist_ok=True)
        summary = {
            "node": verdict.node,
            "trigger": verdict.trigger.value,
            "observed_at": verdict.observed_at.isoformat(),
            "action": verdict.action.value,
            "findings": [f.to_json() for f in verdict.findings],
        }
        write_atomic(folder / "verdict.json", (json.dumps(summary, indent=1) + "\n").encode())
        for name, text in verdict.evidence.items():
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "output"
            write_atomic(folder / f"{safe}.txt", text[:EVIDENCE_FILE_LIMIT].encode())
        return folder


def _ended(job: Mapping[str, str]) -> datetime | None:
    text = job.get("ended", "")
    if not text or text in ("Unknown", "None", "N/A"):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def drain_reason(component: str, check: str, incident: int) -> str:
    """``bringup: <component> <check> (incident <id>)``, the component shortened to fit."""
    suffix = f" {check} (incident {incident})"
    room = REASON_LIMIT - len(OWNER) - 1 - len(suffix)
    text = component if len(component) <= room else component[: max(0, room - 3)] + "..."
    return f"{OWNER} {text}{suffix}"


def slurm_jobs(program: str, env: Mapping[str, str]) -> JobReader:
    """The jobs Slurm ran on a node recently (running, completing, or ended within MinJobAge),
    read with squeue: id, name, state, user and end time."""

    def read(node: str) -> list[dict[str, str]]:
        argv = [program, "-h", "-t", "all", "-w", node, "-o", "%i|%j|%T|%u|%e"]
        try:
            done = subprocess.run(
                argv, env=dict(env), capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SchedulerError(f"slurm: `squeue -w {node}`: {error}") from None
        if done.returncode != 0:
            raise SchedulerError(f"slurm: `squeue -w {node}`: {' '.join(done.stderr.split())}")
        jobs = []
        for line in done.stdout.splitlines():
            parts = line.split("|")
            if len(parts) == 5:
                job_id, name, state, user, ended = parts
                jobs.append(
                    {"id": job_id, "name": name, "state": state, "user": user, "ended": ended}
                )
        return jobs

    return read


class _Handler(BaseHTTPRequestHandler):
    """POST /v1/verdicts (a node's verdict); GET /v1/health (the watch is up)."""

    watch: Watch
    server_version = "bringup-watch"

    def do_GET(self) -> None:
        if self.path != "/v1/health":
            self._answer(404, {"error": f"{self.path}: no such resource"})
            return
        self._answer(200, {"ok": True, "stack": self.watch.stack})

    def do_POST(self) -> None:
        if self.path != "/v1/verdicts":
            self._answer(404, {"error": f"{self.path}: no such resource"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "-1")
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._answer(413, {"error": f"Content-Length: expected 0 to {MAX_BODY} bytes"})
            return
        body = self.rfile.read(length)
        try:
            sender, payload = unmunge(self.headers.get(HEADER) or "")
            if payload != digest(body):
                raise ReportError("the credential is not of this body")
            verdict = HealthVerdict.from_json(json.loads(body))
            self.watch.check_sender(verdict.node, sender)
        except (ReportError, VerdictError, json.JSONDecodeError) as error:
            self._answer(403 if isinstance(error, ReportError) else 400, {"error": str(error)})
            return
        try:
            decision = self.watch.receive(verdict)
        except Exception as error:  # the watch keeps serving; the node tries again next time
            log.exception("%s: verdict not acted on", verdict.node)
            self._answer(500, {"error": f"internal error: {type(error).__name__}: {error}"})
            return
        log.info("%s: %s %s", verdict.node, decision.action, decision.reason)
        self._answer(200, decision.to_json())

    def _answer(self, code: int, data: Mapping[str, object]) -> None:
        body = (json.dumps(data) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug(format, *args)


def serve(watch: Watch, address: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server for `watch`, bound; the caller runs `serve_forever`."""
    handler = type("Handler", (_Handler,), {"watch": watch})
    server = ThreadingHTTPServer((address, port), handler)
    server.daemon_threads = True
    return server


def logging_to(stream: TextIO = sys.stderr) -> None:
    """One line per decision, with its time, on `stream`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

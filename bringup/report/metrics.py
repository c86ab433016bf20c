"""A stack's metrics for Prometheus, written by the official client: node states per SKU and
rack, admitted GPUs, incidents by kind and check, admission runs, drills.

`StackMetrics` is what the metrics are made of (the plan, the ledger's reads, the drill
summaries, the time they were read); `exposition` turns it into the Prometheus text format
(what node-exporter's textfile collector reads) or OpenMetrics. Both are pure: the command line
reads the ledger, the drill files (`bringup.report.sources.read_drills`) and the clock. Nodes
are shown in the report's states (`bringup.report.model.shown_state`), so the wall screen and
the report count the same.

Every sample carries a `stack` label, so the files of several stacks can sit side by side in one
textfile folder without two of them writing the same series. Gauges of a fixed set of labels
(every state of every rack, every status of each incident kind and check) are written with their
zeros: a series that drops to zero stays a series, and sums over a label stay whole.

>>> exposition(StackMetrics("lab", plan, statuses, incidents, runs, drills, now))  # doctest: +SKIP
b'# HELP bringup_nodes Planned nodes by SKU, rack and state...'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest as prometheus_text
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_text
from prometheus_client.registry import Collector

from bringup.admit.ledger import INCIDENT_STATUSES, Incident, NodeStatus, Run
from bringup.errors import BringupError
from bringup.plan import Plan
from bringup.report.model import SHOWN_STATES, Drill, shown_state

__all__ = ["FORMATS", "MetricsError", "StackMetrics", "exposition", "incident_kind"]

_RUN_ENDS = ("finished", "failed")

FORMATS: Mapping[str, Callable[[CollectorRegistry], bytes]] = {
    "prometheus": prometheus_text,
    "openmetrics": openmetrics_text,
}
"""The text formats by name: Prometheus' (the textfile collector's) and OpenMetrics."""


class MetricsError(BringupError):
    """Metrics asked in a format there is none of."""


@dataclass(frozen=True)
class StackMetrics:
    """What a stack's metrics are made of: its plan, what the ledger holds, its drills."""

    stack: str
    plan: Plan
    statuses: Sequence[NodeStatus]
    """Every node the ledger has a state for (`Ledger.status`)."""
    incidents: Sequence[Incident]
    """Every incident of the stack, closed ones too (`Ledger.incidents`)."""
    runs: Sequence[Run]
    """Every admission run of the stack (`Ledger.runs`)."""
    drills: Sequence[Drill]
    """The drill summaries kept, oldest first (`bringup.report.sources.read_drills`)."""
    generated_at: datetime


def incident_kind(incident: Incident) -> str:
    """What kind of part an incident is about: its component's prefix (gpu, nic, service,
    nvlink, mount, node), or nvlink-domain when the domain was found at fault."""
    if incident.domain:
        return "nvlink-domain"
    return incident.component.partition(":")[0]


def exposition(metrics: StackMetrics, text_format: str = "prometheus") -> bytes:
    """The metrics in `text_format` (one of FORMATS), as the client writes them."""
    write = FORMATS.get(text_format)
    if write is None:
        raise MetricsError(f"format {text_format!r}: expected one of {', '.join(FORMATS)}")
    registry = CollectorRegistry()
    registry.register(_Collector(metrics))
    return write(registry)


class _Collector(Collector):
    """The families of one StackMetrics, made when the registry is collected."""

    def __init__(self, metrics: StackMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self._metrics
        yield from _nodes(m)
        yield from _gpus(m)
        yield _incidents(m)
        yield from _runs(m)
        yield from _drills(m)
        generated = GaugeMetricFamily(
            "bringup_metrics_generated_timestamp_seconds",
            "When these metrics were read from the plan, the ledger and the drills (Unix time).",
            labels=["stack"],
        )
        generated.add_metric([m.stack], m.generated_at.timestamp())
        yield generated


def _nodes(m: StackMetrics) -> Iterable[Metric]:
    state = {s.node: shown_state(s.state) for s in m.statuses}
    counts = Counter((n.rack, state.get(n.name, "pending")) for n in m.plan.nodes)
    family = GaugeMetricFamily(
        "bringup_nodes",
        "Planned nodes (NVL72 compute trays included) by SKU, rack and state; pending is every "
        "node without a verdict yet.",
        labels=["stack", "sku", "rack", "state"],
    )
    for rack in m.plan.racks:
        for shown in SHOWN_STATES:
            family.add_metric([m.stack, rack.sku, rack.name, shown], counts[rack.name, shown])
    yield family


def _gpus(m: StackMetrics) -> Iterable[Metric]:
    planned = m.plan.capacity(n.name for n in m.plan.nodes)
    admitted = m.plan.capacity(s.node for s in m.statuses if s.state == "admitted")
    families = (
        GaugeMetricFamily(
            "bringup_planned_gpus",
            "GPUs the plan declares, by SKU (SKUs with GPUs).",
            labels=["stack", "sku"],
        ),
        GaugeMetricFamily(
            "bringup_admitted_gpus",
            "GPUs in admitted nodes, by SKU: the capacity proven and in service.",
            labels=["stack", "sku"],
        ),
    )
    for sku, row in planned.items():
        if not row["gpus"]:
            continue  # a CPU SKU: no GPUs to plan or admit
        families[0].add_metric([m.stack, sku], row["gpus"])
        families[1].add_metric([m.stack, sku], admitted.get(sku, {}).get("gpus", 0))
    yield from families


def _incidents(m: StackMetrics) -> Metric:
    counts = Counter((incident_kind(i), i.check, i.status) for i in m.incidents)
    family = GaugeMetricFamily(
        "bringup_incidents",
        "Incidents of nodes in service by the kind of part at fault, the check and the status "
        "(open, held by the circuit breaker, closed).",
        labels=["stack", "kind", "check", "status"],
    )
    for kind, check in sorted({(kind, check) for kind, check, _ in counts}):
        for status in INCIDENT_STATUSES:
            family.add_metric([m.stack, kind, check, status], counts[kind, check, status])
    return family


def _runs(m: StackMetrics) -> Iterable[Metric]:
    ended = Counter(r.status for r in m.runs if r.status in _RUN_ENDS)
    total = CounterMetricFamily(
        "bringup_admission_runs",
        "Admission runs ended, by how: finished, or failed (their process died and a later run "
        "closed them).",
        labels=["stack", "status"],
    )
    for status in _RUN_ENDS:
        total.add_metric([m.stack, status], ended[status])
    running = GaugeMetricFamily(
        "bringup_admission_runs_running",
        "Admission runs started and not ended: judging nodes now, or waiting to be resumed.",
        labels=["stack"],
    )
    running.add_metric([m.stack], sum(1 for r in m.runs if r.status == "running"))
    duration = GaugeMetricFamily(
        "bringup_admission_run_duration_seconds",
        "How long the latest finished admission run took, from its start to its end.",
        labels=["stack"],
    )
    finished = [
        (r.finished_at, r.id, r.finished_at - r.started_at)
        for r in m.runs
        if r.status == "finished" and r.finished_at is not None
    ]
    if finished:
        duration.add_metric([m.stack], max(finished)[2].total_seconds())
    yield from (total, running, duration)


def _drills(m: StackMetrics) -> Iterable[Metric]:
    latest = {d.fault: d for d in m.drills}  # oldest first: the last of each fault stays
    done = Counter((d.fault, d.job_completed) for d in m.drills)
    drain = GaugeMetricFamily(
        "bringup_drill_fault_to_drain_seconds",
        "The latest drill of each fault kind: seconds from the fault to its node drained "
        "(no sample when it never was).",
        labels=["stack", "fault"],
    )
    running = GaugeMetricFamily(
        "bringup_drill_fault_to_running_seconds",
        "The latest drill of each fault kind: seconds from the fault to the job running again "
        "(no sample when it never was).",
        labels=["stack", "fault"],
    )
    redone = GaugeMetricFamily(
        "bringup_drill_steps_redone",
        "The latest drill of each fault kind: steps lost to the fault and done again "
        "(no sample when its summary does not say).",
        labels=["stack", "fault"],
    )
    total = CounterMetricFamily(
        "bringup_drills",
        "Drills kept, by fault kind and whether their job completed.",
        labels=["stack", "fault", "completed"],
    )
    for fault in sorted(latest):
        drill = latest[fault]
        if drill.seconds_fault_to_drain is not None:
            drain.add_metric([m.stack, fault], drill.seconds_fault_to_drain)
        if drill.seconds_fault_to_running is not None:
            running.add_metric([m.stack, fault], drill.seconds_fault_to_running)
        if drill.steps_redone is not None:
            redone.add_metric([m.stack, fault], drill.steps_redone)
        for completed in (True, False):
            total.add_metric([m.stack, fault, str(completed).lower()], done[fault, completed])
    yield from (drain, running, redone, total)

"""The metrics of the lab from a real SQLite ledger and drill summaries, read back with the
Prometheus client's own parsers: their values, their names, the formats."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from bringup.admit.ledger import Ledger, Owner, Run
from bringup.plan import Plan, make_plan
from bringup.report.metrics import MetricsError, StackMetrics, exposition
from bringup.report.sources import read_drills
from bringup.spec import load_cluster
from bringup.validation.report import Finding

STACKS = Path(__file__).resolve().parents[3] / "stacks"
STACK = "lab"
H100_1, H100_2 = "lab-h1-r01-k01-n1", "lab-h1-r01-k01-n2"
TRAYS = [f"lab-h1-r01-k02-t{n:02d}" for n in range(1, 19)]
CPU = "lab-h1-r01-k03-n1"
NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
WEIRD_CHECK = 'odd "check"\nwith a \\ in it'
"""A check name as hostile as a label value gets: the client must escape it, and does."""

EXPECTED_FAMILIES = {
    "bringup_nodes": "gauge",
    "bringup_planned_gpus": "gauge",
    "bringup_admitted_gpus": "gauge",
    "bringup_incidents": "gauge",
    "bringup_admission_runs": "counter",
    "bringup_admission_runs_running": "gauge",
    "bringup_admission_run_duration_seconds": "gauge",
    "bringup_drill_fault_to_drain_seconds": "gauge",
    "bringup_drill_fault_to_running_seconds": "gauge",
    "bringup_drill_steps_redone": "gauge",
    "bringup_drills": "counter",
    "bringup_metrics_generated_timestamp_seconds": "gauge",
}


def lab_plan() -> Plan:
    return make_plan(load_cluster(STACKS / f"Pulumi.{STACK}.yaml"))


def seed(path: Path) -> None:
    """The lab's ledger: H100_1 admitted, H100_2 quarantined with a finding, tray 1 unreachable,
    tray 2 repaired, tray 3 revalidated, tray 4 admitted, tray 5 provisioned; incidents open,
    held (the NVLink domain at fault) and closed; runs finished, failed and running."""
    with Ledger.open(path=path) as ledger:
        judged = [H100_1, H100_2, *TRAYS[:4]]
        run = ledger.start_run(STACK, judged, {})
        for node in judged:
            ledger.record_state(STACK, node, "provisioned", run_id=run.id)
            ledger.record_state(STACK, node, "validating", run_id=run.id)
        ecc = Finding(f"gpu:{H100_2}/3", "gpu.ecc", "12 uncorrectable", "0")
        verdicts = {
            H100_1: "admitted",
            H100_2: "quarantined",
            TRAYS[0]: "unreachable",
            TRAYS[1]: "quarantined",
            TRAYS[2]: "quarantined",
            TRAYS[3]: "admitted",
        }
        for node, verdict in verdicts.items():
            findings = [ecc] if verdict == "quarantined" else []
            ledger.record_verdict(run.id, STACK, node, verdict, findings)
        ledger.finish_run(run.id)
        for tray in TRAYS[1:3]:
            ledger.mark_repaired(STACK, tray, "tray reseated")
        ledger.record_state(STACK, TRAYS[2], "burn-in")
        ledger.record_state(STACK, TRAYS[2], "revalidated")
        ledger.record_state(STACK, TRAYS[4], "provisioned")

        failed = ledger.start_run(STACK, [TRAYS[5]], {})
        ledger.finish_run(failed.id, "failed")
        ledger.start_run(STACK, [TRAYS[6]], {}, owner=Owner("elsewhere", 4242, ""))

        seen = NOW - timedelta(hours=1)
        xid = Finding(f"gpu:{H100_1}/0", "gpu.xid", "Xid 79", "no Xid")
        ledger.open_incident(
            STACK, H100_1, findings=[xid], first_seen=seen, trigger="epilog", action="reboot"
        )
        link = Finding(f"nvlink:{TRAYS[3]}/gpu0/link3", "nvlink.link_state", "Down", "Up")
        held, _ = ledger.open_incident(
            STACK, TRAYS[3], findings=[link], first_seen=seen, trigger="interval", action="none"
        )
        ledger.update_incident(held.id, status="held", domain="lab-h1-r01-k02-nvl")
        weird = Finding(f"service:{CPU}/slurmd", WEIRD_CHECK, "inactive", "active")
        ledger.open_incident(
            STACK, CPU, findings=[weird], first_seen=seen, trigger="cli", action="restart"
        )
        ledger.close_incidents(STACK, CPU, "slurmd restarted")


def drill(fault: str, **fields: object) -> str:
    """A drill summary as `bringup lab drill` keeps it (its other keys included)."""
    summary: dict[str, object] = {
        "fault": fault,
        "description": f"{fault} on a node",
        "node": TRAYS[0],
        "component": f"gpu:{TRAYS[0]}/0",
        "check": "gpu.xid",
        "incident": 7,
        "seconds_fault_to_drain": 12.5,
        "job_interrupted": True,
        "seconds_fault_to_running": 40.25,
        "seconds_drain_to_running": 27.75,
        "steps_redone": 3,
        "checkpoint_every": 5,
        "job_state": "COMPLETED",
        "job_completed": True,
        "health_interval_s": 10,
    }
    summary.update(fields)
    return json.dumps(summary, indent=1) + "\n"


DRILLS = [  # oldest first
    drill("xid", seconds_fault_to_drain=30.0, steps_redone=9),
    drill("cable-cut", seconds_fault_to_drain=None, seconds_fault_to_running=None,
          job_completed=False, steps_redone=0),
    drill("xid", seconds_fault_to_drain=12.5, seconds_fault_to_running=40.25, steps_redone=3),
]  # fmt: skip


def keep_drills(folder: Path, texts: list[str]) -> Path:
    """The drill summaries in `folder` as `bringup lab drill` keeps them, named by time (the
    fault after it in their names is left out: the summary says it)."""
    folder.mkdir(parents=True)
    for n, text in enumerate(texts):
        (folder / f"20261206T1{n}0000Z-drill.json").write_text(text)
    return folder


def lab_metrics(tmp_path: Path) -> StackMetrics:
    """The lab's metrics, read from a ledger seeded here and the three drills."""
    path = tmp_path / "ledger.sqlite3"
    seed(path)
    with Ledger.open(path=path) as ledger:
        return StackMetrics(
            STACK,
            lab_plan(),
            ledger.status(STACK),
            ledger.incidents(STACK),
            ledger.runs(STACK),
            read_drills(keep_drills(tmp_path / "drills", DRILLS)),
            NOW,
        )


@pytest.fixture
def metrics(tmp_path: Path) -> StackMetrics:
    return lab_metrics(tmp_path)


def families(text: bytes) -> dict[str, Metric]:
    """The families of Prometheus text, parsed by the client, by name."""
    return {family.name: family for family in parse_prometheus(text.decode())}


def openmetrics_families(text: str) -> list[Metric]:
    """The families of OpenMetrics text, parsed by the client's OpenMetrics parser."""
    return list(parse_openmetrics(text))  # type: ignore[no-untyped-call]  # unannotated there


def values(family: Metric, *keys: str) -> dict[tuple[str, ...], float]:
    """A family's samples as {(label values of `keys`): value}; every sample is of the lab."""
    found = {}
    for sample in family.samples:
        assert sample.labels["stack"] == STACK
        key = tuple(sample.labels[k] for k in keys)
        assert key not in found, f"{family.name}: two samples of {key}"
        found[key] = sample.value
    return found


# --- values


def test_every_planned_node_is_counted_once_by_rack_and_state(metrics: StackMetrics) -> None:
    nodes = values(families(exposition(metrics))["bringup_nodes"], "rack", "sku", "state")
    assert sum(nodes.values()) == len(metrics.plan.nodes) == 21
    h100, nvl72 = ("lab-h1-r01-k01", "hgx-h100"), ("lab-h1-r01-k02", "gb200-nvl72")
    cpu = ("lab-h1-r01-k03", "cpu")
    assert {s: nodes[(*h100, s)] for s in ("admitted", "quarantined", "pending")} == {
        "admitted": 1,
        "quarantined": 1,
        "pending": 0,
    }
    assert {s: nodes[(*nvl72, s)] for s in ("admitted", "unreachable", "repaired", "pending")} == {
        "admitted": 1,
        "unreachable": 1,
        "repaired": 2,  # repaired and revalidated
        "pending": 14,  # provisioned, and never seen by the ledger
    }
    assert nodes[(*cpu, "pending")] == 1
    # every state of every rack is a series, its zeros too
    assert len(nodes) == len(metrics.plan.racks) * 5
    assert nodes[(*cpu, "admitted")] == 0


def test_admitted_gpus_are_the_gpus_of_admitted_nodes_by_sku(metrics: StackMetrics) -> None:
    parsed = families(exposition(metrics))
    assert values(parsed["bringup_admitted_gpus"], "sku") == {
        ("hgx-h100",): 8,
        ("gb200-nvl72",): 4,
    }
    assert values(parsed["bringup_planned_gpus"], "sku") == {
        ("hgx-h100",): 16,
        ("gb200-nvl72",): 72,
    }


def test_incidents_are_counted_by_kind_check_and_status(metrics: StackMetrics) -> None:
    incidents = values(
        families(exposition(metrics))["bringup_incidents"], "kind", "check", "status"
    )
    assert {key: n for key, n in incidents.items() if n} == {
        ("gpu", "gpu.xid", "open"): 1,
        ("nvlink-domain", "nvlink.link_state", "held"): 1,
        ("service", WEIRD_CHECK, "closed"): 1,
    }
    # each kind and check seen has all three statuses, so that a closed one drops to zero
    assert len(incidents) == 3 * 3


def test_admission_runs_by_end_and_the_latest_finished_ones_duration(
    metrics: StackMetrics,
) -> None:
    parsed = families(exposition(metrics))
    assert values(parsed["bringup_admission_runs"], "status") == {("finished",): 1, ("failed",): 1}
    assert values(parsed["bringup_admission_runs_running"]) == {(): 1}
    finished = next(r for r in metrics.runs if r.status == "finished")
    assert finished.finished_at is not None
    assert values(parsed["bringup_admission_run_duration_seconds"]) == {
        (): pytest.approx((finished.finished_at - finished.started_at).total_seconds(), abs=1e-6)
    }


def run(id_: str, status: str, started: int, finished: int | None) -> Run:
    """A run started and finished at these minutes past NOW."""
    end = None if finished is None else NOW + timedelta(minutes=finished)
    return Run(id_, STACK, ("n1",), {}, NOW + timedelta(minutes=started), end, status)


def test_the_duration_is_the_latest_finished_runs_not_a_failed_or_running_ones() -> None:
    runs = [
        run("a", "finished", 0, 30),  # 30 minutes, ended second
        run("b", "finished", 5, 25),  # 20 minutes, ended first
        run("c", "failed", 10, 600),  # abandoned long after: no measure of a run
        run("d", "running", 40, None),
    ]
    metrics = StackMetrics(STACK, lab_plan(), [], [], runs, [], NOW)
    parsed = families(exposition(metrics))
    assert values(parsed["bringup_admission_run_duration_seconds"]) == {(): 30 * 60}
    assert values(parsed["bringup_admission_runs"], "status") == {
        ("finished",): 2,
        ("failed",): 1,
    }
    assert values(parsed["bringup_admission_runs_running"]) == {(): 1}
    empty = families(exposition(StackMetrics(STACK, lab_plan(), [], [], [], [], NOW)))
    assert values(empty["bringup_admission_run_duration_seconds"]) == {}


def test_drills_show_the_latest_of_each_fault_and_count_them_all(metrics: StackMetrics) -> None:
    parsed = families(exposition(metrics))
    assert values(parsed["bringup_drill_fault_to_drain_seconds"], "fault") == {("xid",): 12.5}
    assert values(parsed["bringup_drill_fault_to_running_seconds"], "fault") == {("xid",): 40.25}
    assert values(parsed["bringup_drill_steps_redone"], "fault") == {
        ("xid",): 3,
        ("cable-cut",): 0,
    }
    assert values(parsed["bringup_drills"], "fault", "completed") == {
        ("cable-cut", "false"): 1,
        ("cable-cut", "true"): 0,
        ("xid", "false"): 0,
        ("xid", "true"): 2,
    }


def test_the_time_they_were_made(metrics: StackMetrics) -> None:
    parsed = families(exposition(metrics))
    assert values(parsed["bringup_metrics_generated_timestamp_seconds"]) == {(): NOW.timestamp()}


def test_an_unknown_format_is_refused(metrics: StackMetrics) -> None:
    with pytest.raises(MetricsError, match=r"format 'json': expected one of prometheus, openm"):
        exposition(metrics, "json")


# --- names and formats

NAME = re.compile(r"bringup_[a-z][a-z0-9]*(_[a-z0-9]+)*")
LABEL = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
NOT_BASE_UNITS = re.compile(r"_(milli|micro|nano)?(seconds_|ms|us|minutes|hours|days|percent)\b")


def _names_follow_the_conventions(parsed: Iterable[Metric]) -> set[str]:
    """Check every family against Prometheus' naming conventions; their names."""
    names = set()
    for family in parsed:
        names.add(family.name)
        assert NAME.fullmatch(family.name), family.name
        assert family.documentation, f"{family.name}: no help"
        assert not NOT_BASE_UNITS.search(family.name), f"{family.name}: not in base units"
        if "seconds" in family.name:
            assert family.name.endswith("_seconds"), f"{family.name}: the unit goes last"
        assert not family.name.endswith("_total"), family.name  # the parser's family name
        for sample in family.samples:
            if family.type == "counter":
                assert sample.name == f"{family.name}_total", sample.name
            else:
                assert sample.name == family.name, sample.name
            assert all(LABEL.fullmatch(label) for label in sample.labels), sample.labels
            assert "stack" in sample.labels, sample  # files of several stacks sit side by side
            assert sample.timestamp is None  # the textfile collector refuses timestamps
    return names


def test_prometheus_text_follows_the_naming_conventions(metrics: StackMetrics) -> None:
    parsed = list(parse_prometheus(exposition(metrics).decode()))
    assert _names_follow_the_conventions(parsed) == set(EXPECTED_FAMILIES)
    assert {f.name: f.type for f in parsed} == EXPECTED_FAMILIES


def test_openmetrics_says_the_same_and_parses_with_its_own_parser(metrics: StackMetrics) -> None:
    text = exposition(metrics, "openmetrics").decode()
    assert text.endswith("# EOF\n")
    parsed = openmetrics_families(text)
    assert _names_follow_the_conventions(parsed) == set(EXPECTED_FAMILIES)
    assert {f.name: f.type for f in parsed} == EXPECTED_FAMILIES
    prometheus = families(exposition(metrics))
    for family in parsed:
        assert [(s.name, s.labels, s.value) for s in family.samples] == [
            (s.name, s.labels, s.value) for s in prometheus[family.name].samples
        ]


def test_the_same_facts_give_the_same_bytes(tmp_path: Path) -> None:
    first = exposition(lab_metrics(tmp_path / "a"))
    again = exposition(lab_metrics(tmp_path / "b"))
    # the runs' times differ between two ledgers: only the duration's value may
    drop = re.compile(rb"^bringup_admission_run_duration_seconds\{.*$", re.M)
    assert drop.sub(b"", first) == drop.sub(b"", again)

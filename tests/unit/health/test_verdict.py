"""The verdict's JSON form, version 1: what the node writes the watch reads back, field by
field; a document that is not one is refused naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bringup.health.checks import judge_health
from bringup.health.verdict import (
    Action,
    HealthFinding,
    HealthVerdict,
    Severity,
    Trigger,
    VerdictError,
)
from bringup.validation.report import Finding
from tests.unit.validation.conftest import HGX, NodeCase

AT = datetime(2026, 3, 1, 4, 5, 6, 789000, tzinfo=UTC)


def _verdict() -> HealthVerdict:
    return HealthVerdict(
        node="n1",
        trigger=Trigger.EPILOG,
        observed_at=AT,
        duration_s=1.25,
        checks=("gpu.xid", "software.dcgm"),
        findings=(
            HealthFinding(
                Finding("gpu:n1/4", "gpu.xid", "Xid 119", "none", "NVRM: Xid ...", {"pci": "x"}),
                Severity.CRITICAL,
                Action.REBOOT,
            ),
            HealthFinding(
                Finding("service:n1/nvidia-dcgm", "software.dcgm", "dead", "running"),
                Severity.WARNING,
                Action.RESTART_SERVICE,
            ),
        ),
        evidence={"clock": "12.0 1.0\n1800000000\n", "xid": "NVRM: Xid ...\n"},
    )


def test_round_trip_through_json_text() -> None:
    verdict = _verdict()
    data = json.loads(json.dumps(verdict.to_json()))
    assert HealthVerdict.from_json(data) == verdict
    assert data["observed_at"] == "2026-03-01T04:05:06.789000+00:00"
    assert (data["healthy"], data["drain"], data["severity"], data["action"]) == (
        False,
        True,
        "critical",
        "reboot",
    )
    assert data["findings"][1] == {
        "component": "service:n1/nvidia-dcgm",
        "check": "software.dcgm",
        "observed": "dead",
        "expected": "running",
        "evidence": "",
        "attributes": {},
        "severity": "warning",
        "action": "restart-service",
    }
    assert set(data) == {
        "version", "node", "trigger", "observed_at", "duration_s", "healthy", "severity",
        "drain", "action", "checks", "findings", "evidence",
    }  # fmt: skip


def test_a_judged_lab_node_round_trips(make_case: Callable[[str], NodeCase]) -> None:
    case = make_case(HGX)
    case.fault("gpu-off-bus", gpu=6)
    node = case.node()
    verdict = judge_health(node.expected, node.outputs, "interval", duration_s=0.31234)
    assert verdict.drain
    assert verdict.duration_s == 0.312
    assert HealthVerdict.from_json(json.loads(json.dumps(verdict.to_json()))) == verdict


def test_observed_at_is_written_in_utc() -> None:
    elsewhere = AT.astimezone(timezone(timedelta(hours=-5)))
    data = HealthVerdict("n1", Trigger.CLI, elsewhere, 0.0, ()).to_json()
    assert data["observed_at"] == "2026-03-01T04:05:06.789000+00:00"


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = json.loads(json.dumps(_verdict().to_json()))
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), r"verdict version 2: this bringup reads version 1"),
        (lambda d: d.pop("node"), r"verdict\.node: expected str, got NoneType"),
        (lambda d: d.update(trigger="cron"), r"verdict\.trigger: 'cron', expected one of"),
        (lambda d: d.update(observed_at="yesterday"), r"observed_at: not ISO-8601"),
        (lambda d: d.update(observed_at="2026-03-01T04:05:06"), r"observed_at: no time zone"),
        (lambda d: d.update(duration_s=-1), r"duration_s: expected seconds >= 0"),
        (lambda d: d.update(checks="gpu.xid"), r"verdict\.checks: expected a list, got str"),
        (lambda d: d["findings"][0].update(action="pray"), r"findings\[0\]\.action: 'pray'"),
        (lambda d: d["findings"][1].pop("check"), r"findings\[1\]\.check: expected str"),
        (lambda d: d["findings"][0].update(attributes={"pci": 3}), r"attributes: expected text"),
        (lambda d: d.update(evidence={"xid": None}), r"evidence: expected text by section"),
        (lambda d: d.update(drain=False), r"verdict\.drain: False does not follow"),
        (lambda d: d.update(action="reset-gpu"), r"verdict\.action: 'reset-gpu' does not follow"),
    ],
)
def test_a_document_that_is_no_verdict_is_refused_naming_the_field(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(VerdictError, match=message):
        HealthVerdict.from_json(_broken(change))


def test_not_an_object_is_refused() -> None:
    with pytest.raises(VerdictError, match="verdict: expected an object, got list"):
        HealthVerdict.from_json([])

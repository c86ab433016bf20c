"""A node's health verdict: its findings, how bad each is, what to do, and the raw evidence.

The node writes it (``bringup health --format json``, one JSON object) and posts it to the
controller's watch service, which reads it back with :meth:`HealthVerdict.from_json` and acts on
it: a verdict that says ``drain`` opens an incident and drains the node. The JSON form is a
contract between versions of bringup on nodes and controller, so it carries a version and the
reader checks every field, naming the one that is wrong.

What a verdict says as a whole follows from its findings and is never stored apart from them:
it is healthy when no finding is critical (warnings allowed), it drains when one is, and its
action is the strongest of its findings' (:class:`Action`, in the order of the enum).

>>> from datetime import UTC, datetime
>>> v = HealthVerdict("n1", Trigger.CLI, datetime(2026, 1, 1, tzinfo=UTC), 0.8, ("gpu.count",))
>>> (v.healthy, v.drain, v.severity, v.action)
(True, False, <Severity.OK: 'ok'>, <Action.NONE: 'none'>)
>>> HealthVerdict.from_json(v.to_json()) == v
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from bringup.errors import BringupError
from bringup.validation.report import Finding

VERDICT_VERSION = 1


class VerdictError(BringupError):
    """A verdict document that this version cannot read: the field, what was expected, what
    was there."""


class Trigger(StrEnum):
    """What ran the check: Slurm's HealthCheckInterval, the job epilog, or a user."""

    INTERVAL = "interval"
    EPILOG = "epilog"
    CLI = "cli"


class Severity(StrEnum):
    """How bad a finding is, weakest first: a critical finding drains the node."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


class Action(StrEnum):
    """What to do about a finding, weakest first: a verdict recommends its strongest."""

    NONE = "none"
    RESTART_SERVICE = "restart-service"
    REMOUNT = "remount"
    CHECK_CABLE = "check-cable"
    RESET_GPU = "reset-gpu"
    REBOOT = "reboot"
    REPLACE_GPU = "replace-gpu"


_Ranked = TypeVar("_Ranked", Severity, Action)


def strongest(values: Iterable[_Ranked], weakest: _Ranked) -> _Ranked:
    """The strongest of `values` in their enum's order; `weakest` when there are none.

    >>> strongest([Action.REBOOT, Action.CHECK_CABLE], Action.NONE)
    <Action.REBOOT: 'reboot'>
    """
    order = list(type(weakest))
    return max(values, key=order.index, default=weakest)


@dataclass(frozen=True, slots=True)
class HealthFinding:
    """A finding of the suite's judges, with how bad it is and what to do about it."""

    finding: Finding
    severity: Severity
    action: Action

    def to_json(self) -> dict[str, object]:
        """The finding's own fields, with ``severity`` and ``action`` beside them."""
        extra = {"severity": self.severity.value, "action": self.action.value}
        return {**self.finding.to_json(), **extra}

    @classmethod
    def from_json(cls, data: object, where: str) -> HealthFinding:
        """Read back what `to_json` wrote (`where` names it in an error)."""
        entry = _mapping(data, where)
        for key in ("component", "check", "observed", "expected", "evidence"):
            _typed(entry, key, str, where)
        attributes = _mapping(entry.get("attributes", {}), f"{where}.attributes")
        if not all(isinstance(v, str) for v in attributes.values()):
            raise VerdictError(f"{where}.attributes: expected text values")
        return cls(
            Finding.from_json(entry),
            _member(Severity, entry, "severity", where),
            _member(Action, entry, "action", where),
        )


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    """What one health check of one node found."""

    node: str
    trigger: Trigger
    observed_at: datetime
    """When collection started (aware, UTC)."""
    duration_s: float
    """How long the collection took."""
    checks: tuple[str, ...]
    """The check ids that ran (a check that does not apply to the node is not run)."""
    findings: tuple[HealthFinding, ...] = ()
    evidence: Mapping[str, str] = field(default_factory=dict)
    """Raw text by section name: what the tools printed, each bounded."""

    @property
    def severity(self) -> Severity:
        """The worst of the findings' severities (ok without findings)."""
        return strongest((f.severity for f in self.findings), Severity.OK)

    @property
    def drain(self) -> bool:
        """Whether the node must be taken out of work: a finding is critical."""
        return self.severity == Severity.CRITICAL

    @property
    def healthy(self) -> bool:
        """No critical finding (warnings allowed)."""
        return not self.drain

    @property
    def action(self) -> Action:
        """The strongest recommendation of the findings."""
        return strongest((f.action for f in self.findings), Action.NONE)

    def to_json(self) -> dict[str, object]:
        """The verdict as JSON data, version 1."""
        return {
            "version": VERDICT_VERSION,
            "node": self.node,
            "trigger": self.trigger.value,
            "observed_at": self.observed_at.astimezone(UTC).isoformat(),
            "duration_s": self.duration_s,
            "healthy": self.healthy,
            "severity": self.severity.value,
            "drain": self.drain,
            "action": self.action.value,
            "checks": list(self.checks),
            "findings": [f.to_json() for f in self.findings],
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, data: object) -> HealthVerdict:
        """The verdict `to_json` wrote, every field checked; VerdictError names a bad one,
        including a summary field (healthy, severity, drain, action) that its findings do
        not bear out."""
        document = _mapping(data, "verdict")
        version = document.get("version")
        if version != VERDICT_VERSION:
            raise VerdictError(
                f"verdict version {version!r}: this bringup reads version {VERDICT_VERSION}"
            )
        observed_text = _typed(document, "observed_at", str, "verdict")
        try:
            observed_at = datetime.fromisoformat(observed_text)
        except ValueError:
            raise VerdictError(f"verdict.observed_at: not ISO-8601: {observed_text!r}") from None
        if observed_at.tzinfo is None:
            raise VerdictError(f"verdict.observed_at: no time zone: {observed_text!r}")
        duration = document.get("duration_s")
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
            raise VerdictError(f"verdict.duration_s: expected seconds >= 0, got {duration!r}")
        checks = _list(document, "checks", "verdict")
        if not all(isinstance(c, str) for c in checks):
            raise VerdictError("verdict.checks: expected check ids (text)")
        findings = _list(document, "findings", "verdict")
        evidence = _mapping(document.get("evidence", {}), "verdict.evidence")
        if not all(isinstance(v, str) for v in evidence.values()):
            raise VerdictError("verdict.evidence: expected text by section name")
        verdict = cls(
            node=_typed(document, "node", str, "verdict"),
            trigger=_member(Trigger, document, "trigger", "verdict"),
            observed_at=observed_at.astimezone(UTC),
            duration_s=float(duration),
            checks=tuple(str(c) for c in checks),
            findings=tuple(
                HealthFinding.from_json(entry, f"verdict.findings[{i}]")
                for i, entry in enumerate(findings)
            ),
            evidence={str(k): str(v) for k, v in evidence.items()},
        )
        said = {key: document.get(key) for key in ("healthy", "severity", "drain", "action")}
        follows = {key: verdict.to_json()[key] for key in said}
        for key, value in said.items():
            if value != follows[key]:
                raise VerdictError(
                    f"verdict.{key}: {value!r} does not follow from its findings ({follows[key]!r})"
                )
        return verdict


_Member = TypeVar("_Member", Severity, Action, Trigger)


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise VerdictError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(document: Mapping[str, object], key: str, where: str) -> list[object]:
    value = document.get(key)
    if not isinstance(value, list):
        raise VerdictError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


_Value = TypeVar("_Value")


def _typed(document: Mapping[str, object], key: str, kind: type[_Value], where: str) -> _Value:
    value = document.get(key)
    if not isinstance(value, kind):
        raise VerdictError(
            f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _member(enum: type[_Member], document: Mapping[str, object], key: str, where: str) -> _Member:
    value = document.get(key)
    for member in enum:
        if value == member.value:
            return member
    known = ", ".join(m.value for m in enum)
    raise VerdictError(f"{where}.{key}: {value!r}, expected one of {known}")

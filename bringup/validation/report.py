"""The suite's report: findings that name a component, per test and per host, as JSON.

A finding names the part an operator pulls or fixes, by a component id:

    gpu:<host>/<index>                 a GPU (serial in `attributes`)
    nvlink:<host>/gpu<index>/link<n>   one NVLink of a GPU
    nic:<host>/<rail or role>          a NIC port (device, cable, leaf and port in `attributes`)
    cable:<cable id>                   a cable, when both of its ends are down
    service:<host>/<unit>              a daemon
    package:<host>/<name>              an installed package
    mount:<host><mount point>          a shared filesystem
    node:<host>                        the node as a whole (unreachable, burn-in outputs missing)
    fabric:<host>                      the compute fabric as seen from the node

The validation suite (tests/validation) writes one report per run with `--bringup-report=PATH`:
per host, per test, its outcome and its findings. bringup's admission reads that report; users'
CI can read it too, beside the JUnit file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bringup.atomic import write_atomic

REPORT_VERSION = 1
Outcome = Literal["passed", "failed", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One component failing one check, with what was seen and what the plan expected."""

    component: str
    check: str
    observed: str
    expected: str
    evidence: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)

    def line(self) -> str:
        """The one-line form used in assertion messages and tables."""
        extra = "".join(f" {k}={v}" for k, v in sorted(self.attributes.items()))
        return (
            f"{self.component}{extra} [{self.check}] observed {self.observed}, "
            f"expected {self.expected}"
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["attributes"] = dict(self.attributes)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            component=str(data["component"]),
            check=str(data["check"]),
            observed=str(data["observed"]),
            expected=str(data["expected"]),
            evidence=str(data.get("evidence", "")),
            attributes={str(k): str(v) for k, v in dict(data.get("attributes") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One test of the suite on one host."""

    __test__ = False  # a record of a test, not a test class for pytest to collect
    nodeid: str
    module: str
    outcome: Outcome
    findings: tuple[Finding, ...] = ()
    message: str = ""


@dataclass(frozen=True, slots=True)
class HostReport:
    """Everything the suite found on one host."""

    host: str
    tests: tuple[TestOutcome, ...] = ()
    unreachable: bool = False
    message: str = ""

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for t in self.tests for f in t.findings)

    @property
    def failed(self) -> tuple[TestOutcome, ...]:
        return tuple(t for t in self.tests if t.outcome in ("failed", "error"))


def write_report(path: Path, hosts: Mapping[str, HostReport]) -> None:
    """Write a suite report as JSON (atomically: a reader never sees half of one)."""
    document = {
        "version": REPORT_VERSION,
        "hosts": {
            name: {
                "unreachable": report.unreachable,
                "message": report.message,
                "tests": [
                    {
                        "nodeid": t.nodeid,
                        "module": t.module,
                        "outcome": t.outcome,
                        "message": t.message,
                        "findings": [f.to_json() for f in t.findings],
                    }
                    for t in report.tests
                ],
            }
            for name, report in sorted(hosts.items())
        },
    }
    write_atomic(path, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode())


def read_report(path: Path) -> dict[str, HostReport]:
    """Read a suite report written by `write_report`."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("version") != REPORT_VERSION:
        raise ValueError(
            f"{path}: report version {document.get('version')!r}, expected {REPORT_VERSION}"
        )
    hosts = {}
    for name, data in document["hosts"].items():
        tests = tuple(
            TestOutcome(
                nodeid=t["nodeid"],
                module=t["module"],
                outcome=t["outcome"],
                message=t.get("message", ""),
                findings=tuple(Finding.from_json(f) for f in t.get("findings", [])),
            )
            for t in data.get("tests", [])
        )
        hosts[name] = HostReport(
            name, tests, bool(data.get("unreachable")), str(data.get("message", ""))
        )
    return hosts

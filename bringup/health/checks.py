"""The health checks: which of the suite's checks run in service, and what each finding means.

A node in service is judged by the suite's own judges (``bringup.validation.judges.JUDGES``),
on the same expectation admission used, so a part that admission would refuse is one the health
check drains. Only the fast subset runs: what one pass of nvidia-smi, ibstat, ip (addresses,
rules, routes), the IPoIB modes, the daemons' status and the mount table shows. Counters that
need a window (link flaps, symbol errors), package versions and write probes stay with
admission: they take longer, write on the node, or change only when someone changes the node.

Each check has a rule (:data:`RULES`) that says how bad its finding is and what to do about it,
on the ladder NVIDIA Health Validation recommends (DOMAIN.md, "Verdicts and actions": reset the
GPU, reboot, replace) with the steps below it that a node's own parts need: a lost GPU needs a
reboot, a pending row remap a GPU reset, a failed one a new GPU, a port down its cable checked,
a dead daemon a restart, a missing mount a remount. A rail whose MTU, IPoIB mode or routing
drifted from the plan (a netplan apply, an openibd restart, a change by hand) has its network
configuration applied again, the daemon step: a rail routed by the main table, or at another
MTU or mode than its peers, fails or slows the traffic over it. A dead DCGM is a warning: jobs
run without it, only the monitoring is blind; so is a mount with options other than planned,
whose data jobs still reach: remount it when the node is next drained. Every other finding, a
tool that failed included, drains the node.

>>> advise(Finding("gpu:n1/4", "gpu.xid", "Xid 119", "no critical Xid within 2.0 h"))
Advice(severity=<Severity.CRITICAL: 'critical'>, action=<Action.REBOOT: 'reboot'>, note='')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bringup.errors import BringupError
from bringup.health.verdict import (
    Action,
    HealthFinding,
    HealthVerdict,
    Severity,
    Trigger,
    strongest,
)
from bringup.parsers.xid import FALLEN_OFF_BUS_XID
from bringup.plan import NodeExpectation
from bringup.validation.checks import Check
from bringup.validation.collect import NodeOutputs
from bringup.validation.judges import JUDGES
from bringup.validation.node import Node
from bringup.validation.report import Finding

EVIDENCE_BYTES = 64 * 1024
"""The most of one section's raw text a verdict carries."""


class HealthError(BringupError):
    """A node whose health cannot be judged: its expectation does not load, it was not
    reached."""


@dataclass(frozen=True, slots=True)
class Advice:
    """How bad a finding is and what to do about it; `note` adds what the action alone does
    not say."""

    severity: Severity
    action: Action
    note: str = ""


Rule = Callable[[Finding], Advice]


def always(severity: Severity, action: Action, note: str = "") -> Rule:
    """A rule that gives every finding of its check the same advice."""
    advice = Advice(severity, action, note)
    return lambda _finding: advice


XID_ACTIONS: Mapping[int, Action] = {
    FALLEN_OFF_BUS_XID: Action.REBOOT,  # 79: the GPU is gone from the bus until the node reboots
    119: Action.REBOOT,  # GSP RPC timeout: the GSP firmware is wedged
    120: Action.REBOOT,  # GSP error
    48: Action.RESET_GPU,  # double-bit ECC error
    63: Action.RESET_GPU,  # row remap pending: a reset activates it
    64: Action.RESET_GPU,  # row remap could not be recorded
    74: Action.RESET_GPU,  # NVLink error
    94: Action.RESET_GPU,  # contained ECC error
    95: Action.RESET_GPU,  # uncontained ECC error
}
"""What an Xid of the critical set asks for; any other critical Xid: a GPU reset."""
_XIDS = re.compile(r"\bXid (?P<numbers>\d+(?:, \d+)*)")
_FALLEN = "fallen off the bus"


def xid_numbers(observed: str) -> set[int]:
    """The Xids a gpu.xid or nvlink.errors finding names ('Xid 48, 63; fallen off the bus'),
    a GPU fallen off the bus counting as Xid 79.

    >>> sorted(xid_numbers("Xid 48, 63; fallen off the bus"))
    [48, 63, 79]
    """
    numbers = {int(n) for m in _XIDS.finditer(observed) for n in m["numbers"].split(", ")}
    return numbers | ({FALLEN_OFF_BUS_XID} if _FALLEN in observed else set())


def xid_rule(finding: Finding) -> Advice:
    """The strongest action any of the finding's Xids asks for."""
    actions = [XID_ACTIONS.get(x, Action.RESET_GPU) for x in xid_numbers(finding.observed)]
    return Advice(Severity.CRITICAL, strongest(actions, Action.RESET_GPU))


def row_remap_rule(finding: Finding) -> Advice:
    """A failed remap is out of spare rows (a new GPU); a pending one waits for a reset."""
    if "failed" in finding.observed:
        return Advice(Severity.CRITICAL, Action.REPLACE_GPU)
    return Advice(Severity.CRITICAL, Action.RESET_GPU)


def imex_rule(finding: Finding) -> Advice:
    """A dead host IMEX is restarted. One running where the DRA driver runs IMEX holds the
    driver's IMEX session, so no ComputeDomain starts on the tray until it is stopped: the
    daemon step of the ladder still, with a note, as the ladder has no step that stops one."""
    if finding.expected.startswith("stopped"):
        note = (
            "not a restart: stop, disable and mask the host's nvidia-imex; the DRA driver runs IMEX"
        )
        return Advice(Severity.CRITICAL, Action.RESTART_SERVICE, note)
    return Advice(Severity.CRITICAL, Action.RESTART_SERVICE)


_CRITICAL = Severity.CRITICAL
_REAPPLY = "apply the rails' network configuration again (netplan apply) or converge the node"
RULES: Mapping[Check, Rule] = {
    Check.GPU_COUNT: always(_CRITICAL, Action.REBOOT, "replace the GPU if it is lost again"),
    Check.GPU_ECC_UNCORRECTED: always(_CRITICAL, Action.RESET_GPU),
    Check.GPU_ROW_REMAP: row_remap_rule,
    Check.GPU_XID: xid_rule,
    Check.NVLINK_LINK_STATE: always(_CRITICAL, Action.RESET_GPU),
    Check.NVLINK_ERRORS: always(_CRITICAL, Action.RESET_GPU),
    Check.NVLINK_FABRIC_MANAGER: always(_CRITICAL, Action.RESTART_SERVICE),
    Check.NVLINK_NVLSM: always(_CRITICAL, Action.RESTART_SERVICE),
    Check.NVLINK_IMEX: imex_rule,
    Check.NIC_PRESENT: always(_CRITICAL, Action.CHECK_CABLE),
    Check.NIC_STATE: always(_CRITICAL, Action.CHECK_CABLE),
    Check.NIC_RATE: always(_CRITICAL, Action.CHECK_CABLE),
    Check.NIC_CARRIER: always(_CRITICAL, Action.CHECK_CABLE),
    Check.NIC_MTU: always(_CRITICAL, Action.RESTART_SERVICE, _REAPPLY),
    Check.NIC_IPOIB_MODE: always(_CRITICAL, Action.RESTART_SERVICE, _REAPPLY),
    Check.NIC_ROUTING: always(_CRITICAL, Action.RESTART_SERVICE, _REAPPLY),
    Check.SOFTWARE_DCGM: always(Severity.WARNING, Action.RESTART_SERVICE),
    Check.STORAGE_MOUNT: always(_CRITICAL, Action.REMOUNT),
    Check.STORAGE_OPTIONS: always(Severity.WARNING, Action.REMOUNT),
}
"""Each health check, in the order it runs, and how its findings are advised."""

HEALTH_CHECKS: tuple[Check, ...] = tuple(RULES)
"""The checks `bringup health` runs: the suite's, same ids, same judges."""

SECTION_KINDS = frozenset(
    {"clock", "nvidia-smi-xml", "nvidia-smi-nvlink", "xid", "ibstat", "ip-addr", "service"}
    | {"ip-rule", "ip-route", "ipoib-mode", "imex-ctl", "mounts"}
)
"""The kinds of section (``bringup.validation.collect.Section.kind``) the health checks read:
no perfquery, no dpkg, no write probe."""


def advise(finding: Finding) -> Advice:
    """The advice for one finding of a health check."""
    check = Check.known(finding.check)
    if check is None or check not in RULES:
        raise ValueError(f"{finding.check}: not a health check")
    return RULES[check](finding)


def bounded(text: str, limit: int = EVIDENCE_BYTES) -> str:
    """`text` cut to `limit` bytes of UTF-8, with a last line saying how much was left out."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", "ignore")
    return f"{kept}\n[bringup: {len(data) - limit} more bytes left out]\n"


def judge_health(
    expected: NodeExpectation,
    outputs: NodeOutputs,
    trigger: Trigger | str,
    *,
    observed_at: datetime | None = None,
    duration_s: float = 0.0,
) -> HealthVerdict:
    """Judge `outputs` with the health checks that apply to the node.

    `observed_at` is when collection started; without it, the node's own clock as the
    collection read it (its clock section), else now.
    """
    if outputs.unreachable:
        raise HealthError(f"{expected.name}: nothing collected: {outputs.message}")
    node = Node(expected, outputs)
    ran: list[str] = []
    findings: list[HealthFinding] = []
    for check in HEALTH_CHECKS:
        judge = JUDGES[check]
        if judge.skip_reason(node) is not None:
            continue
        ran.append(check.value)
        for finding in judge(node):
            advice = advise(finding)
            findings.append(HealthFinding(finding, advice.severity, advice.action))
    return HealthVerdict(
        node=expected.name,
        trigger=Trigger(trigger),
        observed_at=observed_at or _node_clock(outputs),
        duration_s=round(duration_s, 3),
        checks=tuple(ran),
        findings=tuple(findings),
        evidence={name: bounded(text) for name, (text, _rc) in outputs.sections.items()},
    )


def _node_clock(outputs: NodeOutputs) -> datetime:
    """When the node's clock section ran (`date +%s`, the third field), else now."""
    fields = outputs.text("clock").split()
    if len(fields) >= 3 and fields[2].isdigit():
        return datetime.fromtimestamp(int(fields[2]), UTC)
    return datetime.now(UTC)

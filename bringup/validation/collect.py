"""One remote command per node: every raw tool output the checks need, in one SSH round trip.

The script runs each tool between marker lines that carry its exit status, so one `ssh` (one
`host.run`) returns everything; the suite caches the result for the session and every check
reads it from there. The raw text is kept as it is: it is the evidence a finding quotes. Which
tools run follows the node's expectations (no nvidia-smi on a CPU node, perfquery per planned
InfiniBand port, a mode per planned IPoIB netdev, the rules and routes of the rails' own
tables, a write probe per planned mount). A caller that needs only some of them
(``bringup health``, every minute on every node) names the kinds it reads, and gives each tool
less time. A daemon the node must not run (the host's IMEX where NVIDIA's DRA driver runs
IMEX) has its status collected too, so that a check can see it running.

>>> outputs = parse_outputs("x", "@@bringup:begin a\\nhello\\n\\n@@bringup:end a 0\\n")
>>> outputs.text("a"), outputs.rc("a")
('hello\\n', 0)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from bringup.catalog import LinkLayer
from bringup.plan import NodeExpectation
from bringup.plan.expectation import NicExpectation

BEGIN, END = "@@bringup:begin", "@@bringup:end"
SSH_UNREACHABLE = 255  # ssh's own exit status: connection refused, timed out, host key mismatch
TOOL_TIMEOUT_S = 120

_PRELUDE = """\
T=""; command -v timeout >/dev/null 2>&1 && T="timeout {timeout_s}"
s() {{ printf '\\n{begin} %s\\n' "$1"; ( eval "$2" ) 2>&1; printf '\\n{end} %s %d\\n' "$1" "$?"; }}
svc() {{
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl is-active "$1"
  elif [ -x "/etc/init.d/$1" ]; then
    "/etc/init.d/$1" status
  else
    echo "no such service"; return 4
  fi
}}
"""
# The driver's lines the GPU checks read (bringup.parsers.xid): Xids, a GPU's UUID, and a GPU
# fallen off the bus, at run time or, over three lines, when the driver loads.
_DRIVER_EVENTS = shlex.quote(
    r"NVRM: (Xid|GPU at PCI|GPU [0-9A-Fa-f]{4}:|The NVIDIA GPU|\(PCI ID|fallen off the bus)"
)
_SECTION = re.compile(rf"^{re.escape(BEGIN)} (?P<name>\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class NodeOutputs:
    """The raw outputs collected from one node, by section name, with their exit statuses."""

    host: str
    sections: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    unreachable: bool = False
    message: str = ""

    def has(self, name: str) -> bool:
        return name in self.sections

    def text(self, name: str) -> str:
        """The section's output ('' when it was not collected)."""
        return self.sections.get(name, ("", -1))[0]

    def rc(self, name: str) -> int:
        """The section's exit status (-1 when it was not collected)."""
        return self.sections.get(name, ("", -1))[1]


def perfquery_section(nic: NicExpectation) -> str:
    """The section of a port's counters."""
    return f"perfquery:{nic.device}:{nic.port}"


def ipoib_mode_section(nic: NicExpectation) -> str:
    """The section of an IPoIB netdev's mode."""
    return f"ipoib-mode:{nic.netdev}"


def write_section(mount: str) -> str:
    """The section of a mount's write probe."""
    return f"write:{mount}"


def service_section(service: str) -> str:
    """The section of a daemon's status."""
    return f"service:{service}"


@dataclass(frozen=True)
class Section:
    """One tool run of the script: the section's name and the shell command that prints it.

    >>> Section("perfquery:mlx5_0:1", "$T perfquery -x -C mlx5_0 -P 1").kind
    'perfquery'
    """

    name: str
    command: str

    @property
    def kind(self) -> str:
        """What the section holds: its name, up to the colon of a per-port, per-netdev,
        per-mount or per-daemon section (``perfquery``, ``ipoib-mode``, ``write``,
        ``service``)."""
        return self.name.partition(":")[0]


def planned_sections(expected: NodeExpectation) -> list[Section]:
    """Every section the node's checks read, in the order the script runs them."""
    sections = [Section("clock", "cat /proc/uptime; date +%s")]
    if expected.gpu_count:
        sections += [
            Section("nvidia-smi-xml", "$T nvidia-smi -q -x"),
            Section("nvidia-smi-nvlink", "$T nvidia-smi nvlink -s"),
            Section(
                "xid",
                f"if [ -r /var/log/kern.log ]; then grep -aE {_DRIVER_EVENTS} /var/log/kern.log; "
                f"else dmesg | grep -aE {_DRIVER_EVENTS}; fi; true",
            ),
        ]
    if expected.nics:
        sections += [
            Section("ibstat", "$T ibstat"),
            Section("ip-addr", "ip -j addr show"),
            # every rail's rule and table at once: a section each, not one per rail
            Section("ip-rule", "ip -j -4 rule show"),
            Section("ip-route", "ip -j -4 route show table all"),
        ]
        for nic in expected.nics:
            if nic.link_layer == LinkLayer.INFINIBAND:
                device = shlex.quote(nic.device)
                command = f"$T perfquery -x -C {device} -P {nic.port}"
                sections.append(Section(perfquery_section(nic), command))
            if nic.ipoib_mode is not None:
                mode = shlex.quote(f"/sys/class/net/{nic.netdev}/mode")
                sections.append(Section(ipoib_mode_section(nic), f"cat {mode}"))
    if expected.packages:
        names = " ".join(shlex.quote(p.name) for p in expected.packages)
        sections.append(
            Section(
                "dpkg",
                "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' " + names,
            )
        )
    # a daemon the node must not run is asked the same question: is it active?
    for service in (*expected.services, *expected.stopped_services):
        sections.append(Section(service_section(service), f"svc {shlex.quote(service)}"))
    if expected.host_imex:  # the DRA driver's daemons answer in their pods, not on the host
        sections.append(Section("imex-ctl", "$T nvidia-imex-ctl -N"))
    if expected.mounts:
        sections.append(Section("mounts", "cat /proc/self/mounts"))
        for mount in expected.mounts:
            probe = shlex.quote(f"{mount.mount}/.bringup-validation")
            command = f': > {probe}."$$" && rm -f {probe}."$$"'
            sections.append(Section(write_section(mount.mount), command))
    return sections


def script(sections: Iterable[Section], *, tool_timeout_s: int = TOOL_TIMEOUT_S) -> str:
    """The shell script that prints `sections` between markers, each tool (the commands that
    use ``$T``) stopped after `tool_timeout_s` seconds."""
    prelude = _PRELUDE.format(timeout_s=tool_timeout_s, begin=BEGIN, end=END)
    body = "".join(f"s {shlex.quote(s.name)} {shlex.quote(s.command)}\n" for s in sections)
    return prelude + body


def collection_script(
    expected: NodeExpectation,
    *,
    kinds: Collection[str] | None = None,
    tool_timeout_s: int = TOOL_TIMEOUT_S,
) -> str:
    """The shell script that prints every section the node's checks read; with `kinds`, only
    the sections of those kinds (:attr:`Section.kind`)."""
    sections = planned_sections(expected)
    if kinds is not None:
        sections = [s for s in sections if s.kind in kinds]
    return script(sections, tool_timeout_s=tool_timeout_s)


def parse_outputs(host: str, stdout: str) -> NodeOutputs:
    """Split the script's output into its sections."""
    sections: dict[str, tuple[str, int]] = {}
    for found in _SECTION.finditer(stdout):
        name = found.group("name")
        start = found.end() + 1
        end = re.compile(rf"\n{re.escape(END)} {re.escape(name)} (?P<rc>-?\d+)$", re.MULTILINE)
        closing = end.search(stdout, found.end())
        if closing is None:
            sections[name] = (stdout[start:], -1)  # cut off: the connection dropped mid-run
            break
        sections[name] = (stdout[start : closing.start()], int(closing.group("rc")))
    return NodeOutputs(host, sections)


def judge_run(host: str, rc: int, stdout: str, stderr: str) -> NodeOutputs:
    """The node's outputs from the collection run, or an unreachable node.

    ssh exits 255 for its own failures (refused, timed out, host key); the script never does,
    so 255 with no section printed means the node was not reached.
    """
    if rc == SSH_UNREACHABLE and BEGIN not in stdout:
        message = (stderr.strip().splitlines() or [f"ssh exited {rc}"])[-1]
        return NodeOutputs(host, unreachable=True, message=message)
    return parse_outputs(host, stdout)

"""One remote command per node: every raw tool output the checks need, in one SSH round trip.

The script runs each tool between marker lines that carry its exit status, so one `ssh` (one
`host.run`) returns everything; the suite caches the result for the session and every check
reads it from there. The raw text is kept as it is: it is the evidence a finding quotes. Which
tools run follows the node's expectations (no nvidia-smi on a CPU node, perfquery per planned
InfiniBand port, a write probe per planned mount).

>>> outputs = parse_outputs("x", "@@bringup:begin a\\nhello\\n\\n@@bringup:end a 0\\n")
>>> outputs.text("a"), outputs.rc("a")
('hello\\n', 0)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from bringup.catalog import LinkLayer
from bringup.plan import NodeExpectation
from bringup.plan.expectation import NicExpectation

BEGIN, END = "@@bringup:begin", "@@bringup:end"
SSH_UNREACHABLE = 255  # ssh's own exit status: connection refused, timed out, host key mismatch
TOOL_TIMEOUT_S = 120

_PRELUDE = f"""\
T=""; command -v timeout >/dev/null 2>&1 && T="timeout {TOOL_TIMEOUT_S}"
s() {{ printf '\\n{BEGIN} %s\\n' "$1"; ( eval "$2" ) 2>&1; printf '\\n{END} %s %d\\n' "$1" "$?"; }}
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


def write_section(mount: str) -> str:
    """The section of a mount's write probe."""
    return f"write:{mount}"


def service_section(service: str) -> str:
    """The section of a daemon's status."""
    return f"service:{service}"


def collection_script(expected: NodeExpectation) -> str:
    """The shell script that prints every section the node's checks read."""
    sections: list[tuple[str, str]] = [("clock", "cat /proc/uptime; date +%s")]
    if expected.gpu_count:
        sections += [
            ("nvidia-smi-xml", "$T nvidia-smi -q -x"),
            ("nvidia-smi-nvlink", "$T nvidia-smi nvlink -s"),
            (
                "xid",
                f"if [ -r /var/log/kern.log ]; then grep -aE {_DRIVER_EVENTS} /var/log/kern.log; "
                f"else dmesg | grep -aE {_DRIVER_EVENTS}; fi; true",
            ),
        ]
    if expected.nics:
        sections += [("ibstat", "$T ibstat"), ("ip-addr", "ip -j addr show")]
        for nic in expected.nics:
            if nic.link_layer == LinkLayer.INFINIBAND:
                device = shlex.quote(nic.device)
                command = f"$T perfquery -x -C {device} -P {nic.port}"
                sections.append((perfquery_section(nic), command))
    if expected.packages:
        names = " ".join(shlex.quote(p.name) for p in expected.packages)
        sections += [
            (
                "dpkg",
                "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' " + names,
            ),
        ]
    for service in expected.services:
        sections.append((service_section(service), f"svc {shlex.quote(service)}"))
    if expected.imex:
        sections.append(("imex-ctl", "$T nvidia-imex-ctl -N"))
    if expected.mounts:
        sections.append(("mounts", "cat /proc/self/mounts"))
        for mount in expected.mounts:
            probe = shlex.quote(f"{mount.mount}/.bringup-validation")
            sections.append((write_section(mount.mount), f': > {probe}."$$" && rm -f {probe}."$$"'))
    body = "".join(f"s {shlex.quote(name)} {shlex.quote(cmd)}\n" for name, cmd in sections)
    return _PRELUDE + body


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

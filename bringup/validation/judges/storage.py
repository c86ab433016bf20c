"""Storage checks: the planned mounts present, with their options in effect, writable, and fio
over the planned floors.

Components: ``mount:<host><mount point>``. The filesystem type is reported, not judged: a site
may mount the planned export through another client (and the lab mounts a tmpfs). Options are
judged as the kernel shows them (bringup.validation.mounts), by the rule the storage role
remounts by. fio's figures come from the burn-in run (``fio-<mount with / as _>.json``): its
`write` job against the mount's write_gbs, its `read` job against read_gbs (GB/s, 10^9 bytes).
Burn-in, and so fio, runs on GPU nodes only.
"""

from __future__ import annotations

from bringup.parsers import ParseError
from bringup.parsers.fio import parse_fio
from bringup.validation.checks import Check
from bringup.validation.collect import write_section
from bringup.validation.judge import BURNED_IN, Judges
from bringup.validation.mounts import options_missing
from bringup.validation.node import Node, NodeProblem
from bringup.validation.report import Finding

judges = Judges()


def fio_output_name(mount: str) -> str:
    """The burn-in role's file name for a mount: fio-_mnt_shared.json for /mnt/shared."""
    return f"fio-{mount.replace('/', '_')}.json"


@judges.of(Check.STORAGE_MOUNT)
def mount(node: Node) -> list[Finding]:
    """Each planned mount point mounted."""
    return [
        node.finding(
            f"mount:{m.mount}",
            Check.STORAGE_MOUNT,
            "not mounted",
            f"{m.kind} {m.export}",
        )
        for m in node.expected.mounts
        if m.mount not in node.mounts
    ]


@judges.of(Check.STORAGE_OPTIONS)
def options(node: Node) -> list[Finding]:
    """Each mounted planned mount's options in effect, as far as the kernel shows them."""
    found = []
    for m in node.expected.mounts:
        live = node.mount_options.get(m.mount)
        missing = options_missing(live, m.options) if live is not None else []
        if missing:  # not mounted at all: storage.mount names it
            observed = f"{', '.join(missing)} not in effect ({live})"
            found.append(
                node.finding(f"mount:{m.mount}", Check.STORAGE_OPTIONS, observed, m.options)
            )
    return found


@judges.of(Check.STORAGE_WRITABLE)
def writable(node: Node) -> list[Finding]:
    """A file can be created and removed on each planned mount."""
    found = []
    for m in node.expected.mounts:
        name = write_section(m.mount)
        if node.outputs.rc(name) != 0:
            found.append(
                node.finding(
                    f"mount:{m.mount}",
                    Check.STORAGE_WRITABLE,
                    node.outputs.text(name).strip() or "not writable",
                    "writable",
                )
            )
    return found


@judges.of(Check.STORAGE_FIO, when=BURNED_IN, burn_in=True)
def fio(node: Node) -> list[Finding]:
    """fio's write and read throughput over the mount's planned floors, with no job error."""
    found = []
    for m in node.expected.mounts:
        component = f"mount:{m.mount}"
        name = fio_output_name(m.mount)
        try:
            text = node.burn_in_text(name)
            report = parse_fio(text)
        except NodeProblem as problem:
            found.append(node.finding(component, Check.STORAGE_FIO, problem.reason, "fio results"))
            continue
        except ParseError as exc:
            found.append(
                node.finding(
                    component, Check.STORAGE_FIO, f"unreadable: {exc}", "fio results", text
                )
            )
            continue
        for job in report.jobs:
            if job.error:
                found.append(
                    node.finding(
                        component,
                        Check.STORAGE_FIO,
                        f"job {job.name} error {job.error}",
                        "no error",
                    )
                )
        for direction, floor in (("write", m.write_gbs), ("read", m.read_gbs)):
            jobs = [j for j in report.jobs if j.name == direction]
            have = max((getattr(j, direction).gbs for j in jobs), default=0.0)
            if have < float(floor):
                found.append(
                    node.finding(
                        component,
                        Check.STORAGE_FIO,
                        f"{direction} {have:.2f} GB/s",
                        f">= {float(floor):g} GB/s",
                    )
                )
    return found

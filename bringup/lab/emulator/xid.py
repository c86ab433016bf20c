"""The NVRM kernel-log line of an Xid event, as the NVIDIA driver prints it.

Layout: fixtures/real/xid ('NVRM: Xid (PCI:0000:19:00): 48, pid='<unknown>', name=<unknown>,
<message>', bus in lower-case hex), prefixed with the kernel's '[seconds.micros]' uptime stamp as
`dmesg` and /var/log/kern.log show it. Messages are those of the real logs where the lab has
one (48, 63, 94, 119) and of NVIDIA's Xid catalog otherwise.

>>> xid_line({"xid": 79, "pci": "0000:18:00", "uptime": 1234.5})
"[ 1234.500000] NVRM: Xid (PCI:0000:18:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus."
"""  # noqa: E501 (the doctest's line is the real line)

from __future__ import annotations

from typing import Required, TypedDict

MESSAGES = {
    13: "Graphics SM Warp Exception on (GPC 0, TPC 0, SM 0): Out Of Range Address",
    31: "Ch 00000008, intr 00000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_0 faulted @ "
    "0x0_00000000. Fault is of type FAULT_PDE ACCESS_TYPE_VIRT_READ",
    43: "Ch 00000008",
    45: "Ch 00000008",
    48: "An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at "
    "physAddr 0x0 partition 0, subpartition 0.",
    61: "Internal micro-controller breakpoint/warning (GPU-internal error)",
    62: "Internal micro-controller halt (non-recoverable)",
    63: "Row Remapper: New row (0x0000000000000000) marked for remapping, reset gpu to activate.",
    64: "Row Remapper: Failed to remap row (0x0000000000000000).",
    74: "NVLink: fatal error detected on link 0(0x10000, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0)",
    79: "GPU has fallen off the bus.",
    92: "High single-bit ECC error rate",
    94: "Contained: SM (0x1). RST: No, D-RST: No",
    95: "Uncontained: SM (0x1). RST: Yes, D-RST: No",
    119: "Timeout after 6s of waiting for RPC response from GPU0 GSP! Expected function 76 "
    "(GSP_RM_CONTROL) (0x20800a4c 0x4).",
    120: "GSP task timeout @ pc:0x0, task: 1",
}


class XidReport(TypedDict, total=False):
    """What one kernel-log line says: the Xid, the GPU's bus (short 'pci' or full 'pci_bus_id'),
    the process, a message (the catalog's by default) and the kernel's uptime stamp."""

    xid: Required[int]
    gpu: int
    pci: str
    pci_bus_id: str
    pid: int | None
    name: str | None
    message: str
    uptime: float


def _bus(event: XidReport) -> str:
    """'0000:18:00' from either the short form or a full '00000000:18:00.0' bus id."""
    if event.get("pci"):
        return str(event["pci"]).lower()
    bus_id = str(event.get("pci_bus_id") or "00000000:00:00.0").lower()
    domain, bus, rest = bus_id.split(":")
    return f"{domain[-4:]}:{bus}:{rest.split('.')[0]}"


def xid_line(event: XidReport) -> str:
    """The kernel-log line of `event`."""
    number = event["xid"]
    pid = event.get("pid")
    name = event.get("name")
    message = event.get("message") or MESSAGES.get(number, "Graphics Exception")
    uptime = float(event.get("uptime") or 0.0)
    return (
        f"[{uptime:12.6f}] NVRM: Xid (PCI:{_bus(event)}): {number}, "
        f"pid={pid if pid is not None else repr('<unknown>')}, "
        f"name={name if name else '<unknown>'}, {message}"
    )

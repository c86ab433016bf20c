"""`nvbandwidth [-t testcase...] [-l]` on the node's GPUs.

No real capture exists in fixtures/real: the output follows NVIDIA/nvbandwidth v0.8's source
(output.cpp, inline_common.h: version and driver lines, the device list, 'Running <key>.', the
testcase's description, a matrix of 10-wide columns with 2 decimals and 'N/A' on the diagonal,
then 'SUM <key> <sum>') and its README's examples. Figures: performance.nvbandwidth_h2d_gbs per
GPU for host<->device copies and performance.nvbandwidth_d2d_gbs per GPU pair, lowered in
proportion to a GPU's inactive NVLinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _gpu
from ._base import Env, Run, cuda_version, driver_version, gpus, present

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

VERSION = "v0.8"
NOTE = (
    "NOTE: The reported results may not reflect the full capabilities of the platform.\n"
    "Performance can vary with software drivers, hardware clocks, and system topology.\n"
)


@dataclass(frozen=True)
class Testcase:
    """One nvbandwidth testcase: its key, what its matrix shows and how figures are made."""

    key: str
    description: str
    kind: str  # "h2d" (one row, one column per GPU) or "d2d" (GPU x GPU)
    scale: float = 1.0


def _cases() -> list[Testcase]:
    cases = []
    for engine in ("CE", "SM"):
        suffix = engine.lower()
        cases += [
            Testcase(
                f"host_to_device_memcpy_{suffix}",
                f"memcpy {engine} CPU(row) -> GPU(column) bandwidth (GB/s)",
                "h2d",
            ),
            Testcase(
                f"device_to_host_memcpy_{suffix}",
                f"memcpy {engine} CPU(row) <- GPU(column) bandwidth (GB/s)",
                "h2d",
                1.02,
            ),
            Testcase(
                f"host_to_device_bidirectional_memcpy_{suffix}",
                f"memcpy {engine} CPU(row) <-> GPU(column) bandwidth (GB/s)",
                "h2d",
                0.93,
            ),
            Testcase(
                f"device_to_host_bidirectional_memcpy_{suffix}",
                f"memcpy {engine} CPU(row) <-> GPU(column) bandwidth (GB/s)",
                "h2d",
                0.93,
            ),
            Testcase(
                f"device_to_device_memcpy_read_{suffix}",
                f"memcpy {engine} GPU(row) -> GPU(column) bandwidth (GB/s)",
                "d2d",
            ),
            Testcase(
                f"device_to_device_memcpy_write_{suffix}",
                f"memcpy {engine} GPU(row) <- GPU(column) bandwidth (GB/s)",
                "d2d",
                1.01,
            ),
            Testcase(
                f"all_to_host_memcpy_{suffix}",
                f"memcpy {engine} CPU(row) <- GPU(column) bandwidth (GB/s)",
                "h2d",
                0.97,
            ),
            Testcase(
                f"host_to_all_memcpy_{suffix}",
                f"memcpy {engine} CPU(row) -> GPU(column) bandwidth (GB/s)",
                "h2d",
                0.97,
            ),
        ]
    return cases


TESTCASES = _cases()


def main(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """Run `nvbandwidth args`."""
    head = f"nvbandwidth Version: {VERSION}\nBuilt from Git version: {VERSION}\n\n"
    if "-l" in args or "--list" in args:
        listing = "".join(f"{i}, {c.key}:\n{c.description}\n\n" for i, c in enumerate(TESTCASES))
        return Run(head + "Index, Name:\n\tDescription\n=======================\n" + listing)
    wanted = _testcase_args(args)
    devices = gpus(profile)
    if not devices or any(not present(g) for g in devices):
        error = (
            "[CUDA_ERROR_UNKNOWN] unknown error in expression cuInit(0) in nvbandwidth.cpp:239\n"
        )
        return Run(head, error, 1)
    major, _, minor = cuda_version(profile).partition(".")
    cuda = int(major) * 1000 + int(minor or 0) * 10 if major.isdigit() else 0
    out = [
        head,
        f"CUDA Runtime Version: {cuda}\nCUDA Driver Version: {cuda}\n"
        f"Driver Version: {driver_version(profile)}\n\n",
    ]
    out.append(str(profile.get("hostname") or profile.get("node") or "localhost") + "\n")
    for gpu in devices:
        bus = str(gpu["pci_bus_id"]).lower()[:14]
        out.append(f"Device {gpu['index']}: {gpu['name']} ({bus})\n")
    out.append("\n")
    for ident in wanted or [c.key for c in TESTCASES]:
        case = _find(ident)
        if case is None:
            out.append(f"ERROR: Testcase {ident} not found!\n")
            continue
        out.append(f"Running {case.key}.\n")
        out.append(render_case(profile, case, devices))
    out.append(NOTE)
    return Run("".join(out))


def _testcase_args(args: Sequence[str]) -> list[str]:
    """The values of -t/--testcase (several may follow one flag)."""
    wanted: list[str] = []
    taking = False
    for arg in args:
        if arg in ("-t", "--testcase"):
            taking = True
        elif arg.startswith("--testcase="):
            wanted.append(arg.split("=", 1)[1])
        elif arg.startswith("-"):
            taking = False
        elif taking:
            wanted.append(arg)
    return wanted


def _find(ident: str) -> Testcase | None:
    if ident.isdigit():
        return TESTCASES[int(ident)] if int(ident) < len(TESTCASES) else None
    return next((c for c in TESTCASES if c.key == ident), None)


def _link_share(gpu: GpuProfile) -> float:
    links = gpu.get("nvlinks") or []
    return _gpu.active_links(gpu) / len(links) if links else 1.0


def _jitter(i: int, j: int) -> float:
    """A small, fixed spread between cells, as repeated copies show (deterministic)."""
    return 1.0 - 0.001 * ((i * 7 + j * 3) % 5)


def matrix(profile: Profile, case: Testcase, devices: list[GpuProfile]) -> list[list[float | None]]:
    """The figures of `case`: one row (host) or one row per GPU."""
    perf = profile.get("performance") or {}
    h2d = float(perf.get("nvbandwidth_h2d_gbs") or 55.0) * case.scale
    d2d = float(perf.get("nvbandwidth_d2d_gbs") or 360.0) * case.scale
    if case.kind == "h2d":
        return [[round(h2d * _jitter(0, j), 2) for j in range(len(devices))]]
    rows: list[list[float | None]] = []
    for i, src in enumerate(devices):
        row: list[float | None] = []
        for j, dst in enumerate(devices):
            share = min(_link_share(src), _link_share(dst))
            row.append(None if i == j else round(d2d * share * _jitter(i, j), 2))
        rows.append(row)
    return rows


def render_case(profile: Profile, case: Testcase, devices: list[GpuProfile]) -> str:
    """A testcase's description, matrix and SUM line, as nvbandwidth prints them."""
    values = matrix(profile, case, devices)
    lines = [case.description, "  " + "".join(f"{j:>10}" for j in range(len(devices)))]
    total = 0.0
    for i, row in enumerate(values):
        cells = "".join(f"{v:>10.2f}" if v is not None else f"{'N/A':>10}" for v in row)
        total += sum(v for v in row if v is not None)
        lines.append(f"{i:>2}{cells}")
    lines += ["", f"SUM {case.key} {total:.2f}", "", ""]
    return "\n".join(lines)

"""`all_reduce_perf` (nccl-tests) on the node's GPUs.

Layout: fixtures/real/nccl-tests (nccl-tests 2.13+: the '# nThread ...' header, one '#  Rank'
line per GPU, the out-of-place / in-place table with '#wrong' columns, time printed %7.2f below
100 us, %7.1f below 10 ms, %7.0f above; '# Avg bus bandwidth    : %g ' with its trailing space).

Figures: time(size) = latency + size / algbw_peak, with algbw = size / time and
busbw = algbw * 2 (n - 1) / n (nccl-tests' all-reduce formula), so bus bandwidth climbs with the
size and reaches the profile's performance.nccl_busbw_gbs at large sizes. An inactive NVLink
lowers the peak in proportion to the links left; a node whose profile has no figure gets 90 % of
its NVLink bandwidth.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import _gpu
from ._base import Env, Run, flag_value, gpus, present

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

LATENCY_US = 18.0
TYPE_SIZE = {
    "int8": 1,
    "uint8": 1,
    "half": 2,
    "bfloat16": 2,
    "float": 4,
    "int32": 4,
    "uint32": 4,
    "double": 8,
    "int64": 8,
    "uint64": 8,
}
_SIZE = re.compile(r"^(\d+)([KMGT]?)B?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """nccl-tests' size arguments: '8', '128M', '16G' (powers of 1024)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def peak_busbw(profile: Profile, devices: list[GpuProfile]) -> float:
    """The bus bandwidth (GB/s) the largest messages reach on these GPUs."""
    figure = float((profile.get("performance") or {}).get("nccl_busbw_gbs") or 0.0)
    links = [len(g.get("nvlinks") or []) for g in devices]
    if not devices or not max(links, default=0):
        return figure or 20.0  # no NVLink: PCIe-class bandwidth
    active = min(_gpu.active_links(g) for g in devices)
    total = max(links)
    if not figure:
        speed = min(float(k["speed_mbps"]) for g in devices for k in g["nvlinks"]) / 1000
        figure = round(0.9 * total * speed, 1)
    if not active:
        return 20.0
    return figure if active == total else figure * active / total


def _time_text(us: float) -> str:
    if us >= 10000.0:
        return f"{us:7.0f}"
    if us >= 100.0:
        return f"{us:7.1f}"
    return f"{us:7.2f}"


def main(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """Run `all_reduce_perf args` (-b -e -f -i -g -w -n -c -d -o)."""
    try:
        lo = parse_size(flag_value(args, "-b", "--minbytes") or "32M")
        hi = parse_size(flag_value(args, "-e", "--maxbytes") or "32M")
        factor = int(flag_value(args, "-f", "--stepfactor") or 0)
        step = parse_size(flag_value(args, "-i", "--stepbytes") or "1M")
        ngpus = int(flag_value(args, "-g", "--ngpus") or 1)
        warmup = int(flag_value(args, "-w", "--warmup_iters") or 5)
        iters = int(flag_value(args, "-n", "--iters") or 20)
        check = int(flag_value(args, "-c", "--check") or 1)
    except ValueError as exc:
        return Run("", f"Invalid argument: {exc}\n", 1)
    dtype = flag_value(args, "-d", "--datatype") or "float"
    op = flag_value(args, "-o", "--op") or "sum"
    host = str(profile.get("hostname") or profile.get("node") or "localhost")
    pid = 10000 + zlib.crc32(host.encode()) % 80000
    all_gpus = gpus(profile)
    if ngpus > len(all_gpus) or any(not present(g) for g in all_gpus[:ngpus]):
        reason = "invalid device ordinal" if ngpus > len(all_gpus) else "unknown error"
        return Run(
            f"{host}: Test CUDA failure common.cu:891 '{reason}'\n"
            f" .. {host} pid {pid}: Test failure common.cu:844\n",
            code=1,
        )
    devices = all_gpus[:ngpus]
    lines = [
        f"# nThread 1 nGpus {ngpus} minBytes {lo} maxBytes {hi} step: "
        + (f"{factor}(factor)" if factor > 1 else f"{step}(bytes)")
        + f" warmup iters: {warmup} iters: {iters} agg iters: 1 validation: {check} graph: 0",
        "#",
        "# Using devices",
    ]
    for rank, gpu in enumerate(devices):
        bus = str(gpu["pci_bus_id"])[4:14].lower()
        lines.append(
            f"#  Rank {rank:2d} Group  0 Pid {pid + rank:6d} on {host:>10} device "
            f"{int(gpu['index']):2d} [{bus}] {gpu['name']}"
        )
    lines += [
        "#",
        "#                                                              out-of-place"
        "                       in-place          ",
        "#       size         count      type   redop    root     time   algbw   busbw #wrong"
        "     time   algbw   busbw #wrong",
        "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)       "
        "     (us)  (GB/s)  (GB/s)       ",
    ]
    rows, avg = table(profile, devices, lo, hi, factor, step, dtype, op)
    lines += rows
    lines += ["# Out of bounds values : 0 OK", f"# Avg bus bandwidth    : {avg:g} "]
    return Run("\n".join(lines) + "\n")


def table(
    profile: Profile,
    devices: list[GpuProfile],
    lo: int,
    hi: int,
    factor: int,
    step: int,
    dtype: str,
    op: str,
) -> tuple[list[str], float]:
    """The result rows from `lo` to `hi` bytes, and the average bus bandwidth."""
    n = len(devices)
    bus_factor = 2 * (n - 1) / n if n else 0.0
    peak = peak_busbw(profile, devices)
    algbw_peak = peak / bus_factor if bus_factor else peak
    width = TYPE_SIZE.get(dtype, 4)
    rows, total, count = [], 0.0, 0
    size = max(lo, width)
    while size <= hi:
        timings = []
        for variant in (1.0, 0.998):  # out-of-place, in-place
            time_us = (LATENCY_US + size / (algbw_peak * 1e3)) * variant
            algbw = size / time_us / 1e3
            timings.append((time_us, algbw, algbw * bus_factor))
            total, count = total + algbw * bus_factor, count + 1
        rows.append(row_text(size, size // width, dtype, op, timings))
        if factor <= 1 and step <= 0:
            break
        size = size * factor if factor > 1 else size + step
    return rows, round(total / count, 3) if count else 0.0


def row_text(
    size: int, count: int, dtype: str, op: str, timings: list[tuple[float, float, float]]
) -> str:
    """One result row: size, count, type, op, root, then (time, algbw, busbw, #wrong) twice."""
    cells = "".join(
        f"  {_time_text(time_us)}  {algbw:6.2f}  {busbw:6.2f}  {0:5d}"
        for time_us, algbw, busbw in timings
    )
    return f"{size:12d}  {count:12d}  {dtype:>8}  {op:>6}  {-1:6d}{cells}"

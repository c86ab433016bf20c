"""Burn-in checks: the raw outputs the burn_in role fetched, judged against the SKU's floors.

The role judges nothing on the node; it leaves `<test>.txt|.json`, `.err` and `.rc` per test
and a manifest under ``<burn-in dir>/<host>/``. A floor the catalog does not set for a SKU
(null in host_vars) is not judged. Components: ``gpu:<host>/<i>`` for a GPU's diagnostic or
bandwidth, ``nic:<host>/rail<n>`` for an HCA, ``node:<host>`` for what spans the node (NCCL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bringup.catalog import Role
from bringup.parsers import ParseError
from bringup.parsers.dcgmi import parse_diag_json
from bringup.parsers.nccl_tests import parse_nccl_tests
from bringup.parsers.nvbandwidth import NvbandwidthTestcase, parse_nvbandwidth
from bringup.parsers.perftest import parse_perftest
from bringup.validation.checks import Check
from bringup.validation.judge import BURNED_IN, Judges
from bringup.validation.node import Node, NodeProblem
from bringup.validation.report import Finding

judges = Judges()

T = TypeVar("T")
H2D, D2D = "host_to_device_memcpy_ce", "device_to_device_memcpy_read_ce"


def _read(node: Node, name: str, parse: Callable[[str], T]) -> T:
    text = node.burn_in_text(name)
    try:
        return parse(text)
    except ParseError as exc:
        raise NodeProblem(name, f"unreadable: {exc}", text) from None


@judges.of(Check.BURN_IN_OUTPUTS, when=BURNED_IN, burn_in=True)
def outputs(node: Node) -> list[Finding]:
    """The node's burn-in manifest exists and no planned tool was missing."""
    missing = node.manifest.get("tools_missing") or []
    if not missing:
        return []
    if not isinstance(missing, list):
        raise NodeProblem("manifest.json", f"tools_missing: expected a list, got {missing!r}")
    return [
        node.finding(
            "node",
            Check.BURN_IN_OUTPUTS,
            f"tools missing: {', '.join(str(t) for t in missing)}",
            "every burn-in tool installed",
        )
    ]


@judges.of(Check.BURN_IN_DCGM_DIAG, when=BURNED_IN, burn_in=True)
def dcgm_diag(node: Node) -> list[Finding]:
    """dcgmi diag ran at (at least) the configured level and no test failed."""
    found = []
    level = node.manifest.get("dcgm_diag_level")
    want = node.diag_level
    if want is not None and (not isinstance(level, int) or level < want):
        found.append(
            node.finding("node", Check.BURN_IN_DCGM_DIAG, f"level {level}", f"level {want}")
        )
    report = _read(node, "dcgmi-diag.json", parse_diag_json)
    if report.runtime_error:
        return [
            *found,
            node.finding("node", Check.BURN_IN_DCGM_DIAG, report.runtime_error, "diagnostic ran"),
        ]
    for test in report.tests:
        if test.status != "Fail":
            continue
        failing: list[int | None] = [i for i, s in sorted(test.gpu_status.items()) if s == "Fail"]
        gpus = failing or [None]
        for gpu in gpus:
            text = "; ".join(m.text for m in test.messages if m.gpu in (gpu, None))
            component = f"gpu:/{gpu}" if gpu is not None else "node"
            found.append(
                node.finding(
                    component, Check.BURN_IN_DCGM_DIAG, f"{test.name} Fail", "Pass", evidence=text
                )
            )
    return found


@judges.of(Check.BURN_IN_NCCL_BUSBW, when=BURNED_IN, burn_in=True)
def nccl_busbw(node: Node) -> list[Finding]:
    """all_reduce_perf bus bandwidth at the largest message over the floor, no wrong results."""
    floor = node.expected.threshold("nccl_allreduce_busbw_gbs")
    if floor is None:
        return []
    text = node.burn_in_text("all_reduce_perf.txt")
    result = _read(node, "all_reduce_perf.txt", parse_nccl_tests)
    rows = result.rows
    if not rows:
        reason = result.failure or "no results"
        return [node.finding("node", Check.BURN_IN_NCCL_BUSBW, reason, f">= {floor:g} GB/s", text)]
    last = max(rows, key=lambda r: r.size_bytes)
    busbw = max(last.out_of_place.busbw_gbps, last.in_place.busbw_gbps)
    found = []
    if busbw < floor:
        found.append(
            node.finding(
                "node",
                Check.BURN_IN_NCCL_BUSBW,
                f"{busbw:g} GB/s at {last.size_bytes} B",
                f">= {floor:g} GB/s",
            )
        )
    wrong = sum((r.out_of_place.wrong or 0) + (r.in_place.wrong or 0) for r in rows)
    if wrong:
        found.append(node.finding("node", Check.BURN_IN_NCCL_BUSBW, f"{wrong} wrong results", "0"))
    return found


def _testcase(node: Node, name: str) -> NvbandwidthTestcase:
    report = _read(node, "nvbandwidth.txt", parse_nvbandwidth)
    for case in report.testcases:
        if case.name == name and case.ran:
            found: NvbandwidthTestcase = case
            return found
    raise NodeProblem("nvbandwidth.txt", f"testcase {name} did not run")


def _per_gpu(node: Node, check: Check, floor: float, values: dict[int, float]) -> list[Finding]:
    return [
        node.finding(f"gpu:/{gpu}", check, f"{value:g} GB/s", f">= {floor:g} GB/s")
        for gpu, value in sorted(values.items())
        if value < floor
    ]


@judges.of(Check.BURN_IN_NVBANDWIDTH_H2D, when=BURNED_IN, burn_in=True)
def nvbandwidth_h2d(node: Node) -> list[Finding]:
    """Host-to-device copy bandwidth of each GPU over the floor."""
    floor = node.expected.threshold("nvbandwidth_h2d_gbs")
    if floor is None:
        return []
    case = _testcase(node, H2D)
    values: dict[int, float] = {}
    for c, label in enumerate(case.column_labels):
        column = [row[c] for row in case.matrix if row[c] is not None]
        values[int(label)] = min(v for v in column if v is not None) if column else 0.0
    return _per_gpu(node, Check.BURN_IN_NVBANDWIDTH_H2D, floor, values)


@judges.of(Check.BURN_IN_NVBANDWIDTH_D2D, when=BURNED_IN, burn_in=True)
def nvbandwidth_d2d(node: Node) -> list[Finding]:
    """Device-to-device read bandwidth from each GPU to every other over the floor."""
    floor = node.expected.threshold("nvbandwidth_d2d_gbs")
    if floor is None:
        return []
    case = _testcase(node, D2D)
    values: dict[int, float] = {}
    for label, row in zip(case.row_labels, case.matrix, strict=True):
        cells = [v for v in row if v is not None]
        values[int(label)] = min(cells) if cells else 0.0
    return _per_gpu(node, Check.BURN_IN_NVBANDWIDTH_D2D, floor, values)


@judges.of(Check.BURN_IN_IB_WRITE_BW, when=BURNED_IN, burn_in=True)
def ib_write_bw(node: Node) -> list[Finding]:
    """ib_write_bw average bandwidth (Gb/s) of each compute HCA over the floor."""
    floor = node.expected.threshold("ib_write_bw_gbps")
    if floor is None:
        return []
    found = []
    for nic in node.expected.nics:
        if nic.role != Role.COMPUTE:
            continue
        component = f"nic:/{nic.label}"
        name = f"ib_write_bw-{nic.device}-{nic.port}.txt"
        try:
            result = _read(node, name, parse_perftest)
        except NodeProblem as problem:
            found.append(
                node.finding(
                    component,
                    Check.BURN_IN_IB_WRITE_BW,
                    problem.reason,
                    f">= {floor:g} Gb/s",
                    problem.evidence,
                    nic.attributes,
                )
            )
            continue
        rows = result.rows
        best = max((r.bw_average or 0.0 for r in rows), default=0.0)
        if result.bw_unit == "MB/sec":
            best = best * 8 / 1000
        if best < floor:
            found.append(
                node.finding(
                    component,
                    Check.BURN_IN_IB_WRITE_BW,
                    f"{best:g} Gb/s",
                    f">= {floor:g} Gb/s",
                    attributes=nic.attributes,
                )
            )
    return found

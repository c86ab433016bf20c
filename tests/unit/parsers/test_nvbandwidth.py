"""nvbandwidth: no real capture exists in fixtures/real.

The sample below follows NVIDIA/nvbandwidth's documented output (README.md) and its printer
(output.cpp, PeerValueMatrix in inline_common.h): version and device lines, "Running <name>.",
the description, the matrix with N/A on the diagonal, "SUM <name> <value>", the bare "Waived: "
of a testcase that was filtered out, and the closing NOTE.
"""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvbandwidth import parse_nvbandwidth

SAMPLE = """nvbandwidth Version: v0.7
Built from Git version: v0.7

CUDA Runtime Version: 12040
CUDA Driver Version: 12040
Driver Version: 550.54.15

Device 0: NVIDIA H100 80GB HBM3 (00000000:19:00)
Device 1: NVIDIA H100 80GB HBM3 (00000000:3b:00)

Running host_to_device_memcpy_ce.
memcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)
           0         1
 0     55.63     55.62

SUM host_to_device_memcpy_ce 111.25

Waived:<space>
Running device_to_device_memcpy_read_ce.
memcpy CE GPU(row) <- GPU(column) bandwidth (GB/s)
           0         1
 0       N/A    389.26
 1    389.82       N/A

SUM device_to_device_memcpy_read_ce 779.08

Running device_local_copy.
ERROR: cuMemAlloc failed: out of memory

NOTE: This tool reports current measured bandwidth on your system.
Additional system-specific tuning may be required to achieve maximal peak bandwidth.

""".replace("<space>", " ")  # nvbandwidth prints "Waived: " with a trailing space


def test_header_devices_and_testcases() -> None:
    report = parse_nvbandwidth(SAMPLE)
    assert (report.version, report.cuda_runtime_version, report.driver_version) == (
        "v0.7",
        "12040",
        "550.54.15",
    )
    assert [(d.index, d.bus_id) for d in report.devices] == [
        (0, "00000000:19:00"),
        (1, "00000000:3b:00"),
    ]
    assert [case.name for case in report.testcases] == [
        "host_to_device_memcpy_ce",
        "device_to_device_memcpy_read_ce",
        "device_local_copy",
    ]
    assert report.notes[0] == "Waived:"


def test_matrix_sum_and_na_diagonal() -> None:
    report = parse_nvbandwidth(SAMPLE)
    h2d = report.testcase("host_to_device_memcpy_ce")
    assert h2d.description == "memcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)"
    assert (h2d.row_labels, h2d.column_labels) == (("0",), ("0", "1"))
    assert h2d.matrix == ((55.63, 55.62),)
    assert h2d.sum == 111.25
    d2d = report.testcase("device_to_device_memcpy_read_ce")
    assert d2d.value("0", "0") is None
    assert d2d.value("1", "0") == 389.82
    assert d2d.sum == 779.08
    assert d2d.ran


def test_failed_testcase_keeps_status_and_message() -> None:
    failed = parse_nvbandwidth(SAMPLE).testcase("device_local_copy")
    assert (failed.status, failed.message) == ("ERROR", "cuMemAlloc failed: out of memory")
    assert not failed.ran


def test_a_short_matrix_row_names_its_line() -> None:
    text = SAMPLE.replace(" 1    389.82       N/A", " 1    389.82")
    with pytest.raises(ParseError, match="a label and 2 values") as raised:
        parse_nvbandwidth(text)
    assert raised.value.lineno == 23


def test_truncated_testcase_is_a_parse_error() -> None:
    text = (
        SAMPLE.split("Running device_to_device")[0] + "Running device_to_device_memcpy_read_ce.\n"
    )
    with pytest.raises(ParseError, match="no matrix") as raised:
        parse_nvbandwidth(text)
    assert raised.value.lineno == 19


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="Running <testcase>") as raised:
        parse_nvbandwidth("cuInit failed\n")
    assert raised.value.lineno == 1

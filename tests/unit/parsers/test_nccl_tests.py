"""nccl-tests all_reduce_perf: real A100/H100 runs (whole, table-only, srun- and mpirun-tagged),
a real Open MPI launch failure, and a run whose maxBytes nccl-tests reduced to fit GPU memory
(tests/fixtures/field/nccl-tests).

A launch failure with no table is returned as a failed result (NcclTestsResult.failure), not
raised: it is the run's outcome, and the verdict needs its message. Text with neither a table
nor a recognisable failure is a ParseError.
"""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nccl_tests import parse_nccl_tests

from .conftest import field, real

HEADER = (
    "#       size         count      type   redop    root     time   algbw   busbw #wrong"
    "     time   algbw   busbw #wrong\n"
)
ROW = (
    "    33554432       8388608     float     sum      -1    650.2   51.61   96.76      0"
    "    648.4   51.75   97.03      0\n"
)


def test_single_node_a100_with_header_and_devices() -> None:
    result = parse_nccl_tests(real("nccl-tests/all_reduce_perf_a100_x8-1node_gcm.txt"))
    assert (result.n_threads, result.n_gpus, result.min_bytes, result.max_bytes, result.iters) == (
        1,
        1,
        33554432,
        1073741824,
        20,
    )
    assert result.nccl_version == "2.16.2+cuda11.6"
    assert [device.rank for device in result.devices] == list(range(8))
    assert result.devices[0].pid == 66421
    assert result.devices[0].host == "{hostname}"
    assert result.devices[7].name == "NVIDIA A100-SXM4-80GB"
    assert len(result.rows) == 6
    last = result.row(1073741824)
    assert (last.count, last.type, last.redop, last.root) == (268435456, "float", "sum", -1)
    assert (last.out_of_place.time_us, last.out_of_place.busbw_gbps, last.out_of_place.wrong) == (
        8109.1,
        231.72,
        0,
    )
    assert last.in_place.busbw_gbps == 231.70
    assert (result.out_of_bounds, result.avg_busbw_gbps) == (0, 210.99)
    assert result.peak_busbw_gbps == 231.72
    assert not result.failed


def test_two_node_a100_ranks_on_two_hosts() -> None:
    result = parse_nccl_tests(real("nccl-tests/all_reduce_perf_a100_x16-2nodes_gcm.txt"))
    assert {device.host for device in result.devices} == {"{host1}", "{host2}"}
    assert result.devices[15].pid == 73339
    assert result.peak_busbw_gbps == 182.80
    assert result.avg_busbw_gbps == 150.209


def test_h100_header_lines_without_hash_and_pci_bus_ids() -> None:
    result = parse_nccl_tests(
        real("nccl-tests/all_reduce_perf_h100_gcp-a3mega-x2nodes-16gpu_ztan.txt")
    )
    assert (result.min_bytes, result.max_bytes) == (8, 8589934592)
    assert len(result.devices) == 16  # rank 0's line lost its '#' in the paste
    assert result.devices[0].bus_id == "0000:04:00"
    assert result.devices[8].host == "ztan-mig-gq73"
    assert len(result.rows) == 31
    assert result.row(8589934592).out_of_place.busbw_gbps == 338.82
    assert result.avg_busbw_gbps == 70.742


def test_old_layout_without_root_and_with_an_error_column_and_crlf() -> None:
    result = parse_nccl_tests(
        real("nccl-tests/all_reduce_perf_a100_dgx-a100-x2nodes-k8s_deepops.txt")
    )
    assert len(result.rows) == 30
    first = result.rows[0]
    assert first.root is None
    assert (first.out_of_place.error, first.out_of_place.wrong) == (2e-07, None)
    assert result.peak_busbw_gbps == 188.70
    assert result.avg_busbw_gbps == 53.7098
    assert not result.failed


def test_old_layout_four_nodes() -> None:
    result = parse_nccl_tests(real("nccl-tests/all_reduce_perf_a100_dgx-a100-x4nodes_deepops.txt"))
    assert [row.size_bytes for row in result.rows][:2] == [1048576, 2097152]
    assert result.row(4294967296).in_place.busbw_gbps == 191.56
    assert result.avg_busbw_gbps == 113.289


@pytest.mark.parametrize(
    ("name", "rows", "peak"),
    [
        ("nccl-tests/all_reduce_perf_a100_p4de-x2nodes_efa_awsome.txt", 29, 78.33),
        ("nccl-tests/all_reduce_perf_h100_p5-x2nodes_efa_awsome.txt", 32, 487.26),
    ],
)
def test_srun_labelled_table_only(name: str, rows: int, peak: float) -> None:
    result = parse_nccl_tests(real(name))
    assert len(result.rows) == rows
    assert result.peak_busbw_gbps == peak
    assert result.avg_busbw_gbps is None  # the paste stops before the summary
    assert result.devices == ()


def test_mpirun_tagged_output() -> None:
    result = parse_nccl_tests(
        real("nccl-tests/all_reduce_perf_unknown-gpu_aws-batch_mpirun-prefixed_awsome.txt")
    )
    assert len(result.rows) == 32
    assert result.row(17179869184).in_place.busbw_gbps == 483.35
    assert (result.out_of_bounds, result.avg_busbw_gbps) == (0, 156.742)


def test_field_reduced_max_bytes_is_the_size_the_run_used() -> None:
    result = parse_nccl_tests(field("nccl-tests/all_reduce_perf_h100x8_reducing-maxbytes.txt"))
    assert (result.min_bytes, result.max_bytes) == (1073741824, 28149022720)
    assert result.requested_max_bytes == 68719476736  # the header's -e 64G
    assert [row.size_bytes for row in result.rows] == [1073741824 << i for i in range(5)]
    assert max(row.size_bytes for row in result.rows) <= result.max_bytes
    assert result.peak_busbw_gbps == 481.02
    assert not result.failed


def test_a_run_that_was_not_reduced_keeps_the_headers_max_bytes() -> None:
    result = parse_nccl_tests(real("nccl-tests/all_reduce_perf_a100_x8-1node_gcm.txt"))
    assert (result.max_bytes, result.requested_max_bytes) == (1073741824, None)


def test_reduced_max_bytes_under_srun_labels_and_without_the_hash() -> None:
    text = (
        "0: # nThread 1 nGpus 1 minBytes 8 maxBytes 137438953472 step: 2(factor) warmup iters: 5"
        " iters: 20 agg iters: 1 validation: 1 graph: 0\n"
        "0: Reducing maxBytes to 45634027520 due to memory limitation\n" + HEADER + ROW
    )
    result = parse_nccl_tests(text)
    assert (result.max_bytes, result.requested_max_bytes) == (45634027520, 137438953472)


def test_open_mpi_launch_failure_is_a_failed_result() -> None:
    result = parse_nccl_tests(
        real("nccl-tests/all_reduce_perf_mpirun-not-enough-slots_FAILED_gcm.txt")
    )
    assert result.failed
    assert result.rows == ()
    assert result.failure is not None
    assert result.failure.startswith(
        "There are not enough slots available in the system to satisfy the 16"
    )
    assert result.failure.endswith("slots that were requested by the application:")


def test_wrong_results_fail_the_run() -> None:
    text = (
        HEADER + ROW.replace("96.76      0", "96.76      3") + "# Out of bounds values : 3 FAILED\n"
    )
    result = parse_nccl_tests(text)
    assert result.rows[0].out_of_place.wrong == 3
    assert result.out_of_bounds == 3
    assert result.failed


def test_nccl_failure_after_the_table_started() -> None:
    text = HEADER + ROW + "node1: Test NCCL failure common.cu:1005 'unhandled system error'\n"
    result = parse_nccl_tests(text)
    assert len(result.rows) == 1
    assert result.failure is not None
    assert "unhandled system error" in result.failure
    assert result.failed


def test_truncated_row_names_its_line() -> None:
    lines = real("nccl-tests/all_reduce_perf_a100_x8-1node_gcm.txt").split("\n")
    row = next(i for i, line in enumerate(lines) if line.startswith("   268435456"))
    lines[row] = lines[row][:50]
    with pytest.raises(ParseError, match="values for 13 columns") as raised:
        parse_nccl_tests("\n".join(lines))
    assert raised.value.lineno == row + 1


def test_garbage_and_empty_are_parse_errors() -> None:
    with pytest.raises(ParseError, match="no results table") as raised:
        parse_nccl_tests("\n\nall good, trust me\n")
    assert raised.value.lineno == 3
    with pytest.raises(ParseError, match="empty"):
        parse_nccl_tests("")

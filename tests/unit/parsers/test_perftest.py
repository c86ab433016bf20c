"""perftest ib_write_bw: real RoCE runs (Gb/s and MB/s), one cut before its result row."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.perftest import parse_perftest

from .conftest import real


def test_dgx1_cx5_100g_run() -> None:
    result = parse_perftest(real("perftest/ib_write_bw_roce_cx5-100g_dgx1-v100_deepops.txt"))
    assert result.test == "RDMA_Write BW Test"
    assert result.fields["Device"] == "mlx5_0"
    assert result.fields["Link type"] == "Ethernet"
    assert result.fields["Mtu"] == "4096[B]"
    assert result.fields["rdma_cm QPs"] == "ON"
    assert result.bw_unit == "Gb/sec"
    (row,) = result.rows
    assert (row.size_bytes, row.iterations, row.bw_peak, row.bw_average, row.msg_rate_mpps) == (
        65536,
        5000,
        92.42,
        92.40,
        0.176230,
    )
    assert result.local_address == "LID 0000 QPN 0x025d PSN 0x5cac14"
    assert result.remote_address == "LID 0000 QPN 0x025d PSN 0xe849fe"
    assert result.notes == (
        "Conflicting CPU frequency values detected: 1200.535000 != 1251.336000."
        " CPU Frequency is not max.",
    )


def test_post_list_duration_mode_peak_is_zero() -> None:
    result = parse_perftest(
        real("perftest/ib_write_bw_post-list_8B-60s_roce_EXCERPT_perftest-issue273.txt")
    )
    assert result.test == "RDMA_Write Post List BW Test"
    assert (
        result.fields["Post List"],
        result.fields["Device"],
        result.fields["PCIe relax order"],
    ) == (
        "128",
        "ib0",
        "Unsupported",
    )
    (row,) = result.rows
    assert (row.size_bytes, row.iterations, row.bw_peak, row.bw_average) == (
        8,
        224958464,
        0.0,
        0.48,
    )
    assert row.msg_rate_mpps == 7.498617


def test_server_side_cut_before_the_result_row() -> None:
    result = parse_perftest(
        real("perftest/ib_write_bw_roce_header-to-results_EXCERPT_perftest-issue234.txt")
    )
    assert result.rows == ()
    assert result.bw_unit == "MB/sec"
    assert result.fields["ibv_wr* API"] == "ON"
    assert result.remote_address is not None
    assert "QPN 0x0076" in result.remote_address


def test_latency_layout() -> None:
    text = (
        "                    RDMA_Write Latency Test\n Device         : mlx5_0\n"
        "---------------------------------------------------------------------------------------\n"
        " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]"
        "    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec]\n"
    )
    bad = text.replace(" #bytes #iterations", " #bytes  #iterations")
    result = parse_perftest(
        bad + " 2       1000          1.61           4.35         1.65"
        "             1.66             0.05            1.81                    4.35\n"
    )
    (row,) = result.rows
    assert row.values["t_typical[usec]"] == 1.65
    assert row.bw_average is None
    assert result.bw_unit is None


def test_a_short_row_names_its_line() -> None:
    text = real("perftest/ib_write_bw_roce_cx5-100g_dgx1-v100_deepops.txt").replace(
        "65536      5000             92.42              92.40              0.176230",
        "65536      5000",
    )
    with pytest.raises(ParseError, match="2 values for 5 columns") as raised:
        parse_perftest(text)
    assert raised.value.lineno == 21


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="BW Test") as raised:
        parse_perftest("\nCouldn't connect to 10.0.0.2:18515\n")
    assert raised.value.lineno == 2

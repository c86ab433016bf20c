"""all_reduce_perf, nvbandwidth, ib_write_bw: the profile's figures come back through parsing."""

from __future__ import annotations

import pytest

from bringup.lab.emulator import nccl_tests, nvbandwidth, perftest
from bringup.parsers.nccl_tests import parse_nccl_tests
from bringup.parsers.nvbandwidth import parse_nvbandwidth
from bringup.parsers.perftest import parse_perftest

from .conftest import ENV, Profile, profile_of

SWEEP = ["-b", "8", "-e", "16G", "-f", "2"]


def test_all_reduce_reaches_the_profile_bus_bandwidth(gpu_profile: Profile) -> None:
    count = len(gpu_profile["gpus"])
    run = nccl_tests.main([*SWEEP, "-g", str(count)], gpu_profile, ENV)
    result = parse_nccl_tests(run.stdout)
    assert run.code == 0
    assert not result.failed
    assert result.n_gpus == count
    assert len(result.devices) == count
    assert [d.name for d in result.devices] == [g["name"] for g in gpu_profile["gpus"]]
    assert [r.size_bytes for r in result.rows] == [2**k for k in range(3, 35)]
    expected = nccl_tests.peak_busbw(gpu_profile, gpu_profile["gpus"])
    figure = gpu_profile["performance"]["nccl_busbw_gbs"]
    assert expected == pytest.approx(figure or expected)
    assert expected > 0
    assert result.peak_busbw_gbps == pytest.approx(expected, rel=0.01)
    small = result.row(8).out_of_place
    assert small.busbw_gbps < 1.0 < small.time_us  # latency-bound at small sizes
    assert result.avg_busbw_gbps is not None
    assert 0 < result.avg_busbw_gbps < expected


def test_all_reduce_times_follow_the_bus_bandwidth_formula() -> None:
    profile = profile_of("hgx-h100")
    result = parse_nccl_tests(nccl_tests.main([*SWEEP, "-g", "8"], profile, ENV).stdout)
    for row in result.rows[-8:]:
        timing = row.out_of_place
        algbw = row.size_bytes / timing.time_us / 1e3
        assert timing.algbw_gbps == pytest.approx(algbw, rel=0.01, abs=0.01)
        assert timing.busbw_gbps == pytest.approx(algbw * 2 * 7 / 8, rel=0.01, abs=0.01)


def test_low_nccl_bandwidth_and_inactive_nvlink_lower_the_peak() -> None:
    profile = profile_of("hgx-h100")
    profile["performance"]["nccl_busbw_gbs"] = 200.0
    low = parse_nccl_tests(nccl_tests.main([*SWEEP, "-g", "8"], profile, ENV).stdout)
    assert low.peak_busbw_gbps == pytest.approx(200.0, rel=0.01)
    profile = profile_of("hgx-h100")
    for link in profile["gpus"][3]["nvlinks"][:9]:
        link["active"] = False
    half = parse_nccl_tests(nccl_tests.main([*SWEEP, "-g", "8"], profile, ENV).stdout)
    figure = profile["performance"]["nccl_busbw_gbs"]
    assert half.peak_busbw_gbps == pytest.approx(figure / 2, rel=0.01)


def test_all_reduce_fails_without_the_gpus() -> None:
    profile = profile_of("hgx-h100")
    assert nccl_tests.main(["-g", "16"], profile, ENV).code == 1
    profile["gpus"][0]["present"] = False
    run = nccl_tests.main(["-g", "8"], profile, ENV)
    assert run.code == 1
    assert "Test CUDA failure" in run.stdout
    assert parse_nccl_tests(run.stdout).failed


def test_nvbandwidth_round_trip(gpu_profile: Profile) -> None:
    run = nvbandwidth.main(
        ["-t", "host_to_device_memcpy_ce", "device_to_device_memcpy_read_ce"], gpu_profile, ENV
    )
    report = parse_nvbandwidth(run.stdout)
    count = len(gpu_profile["gpus"])
    assert [c.name for c in report.testcases] == [
        "host_to_device_memcpy_ce",
        "device_to_device_memcpy_read_ce",
    ]
    assert [d.name for d in report.devices] == [g["name"] for g in gpu_profile["gpus"]]
    h2d = report.testcase("host_to_device_memcpy_ce")
    figure = gpu_profile["performance"]["nvbandwidth_h2d_gbs"]
    assert len(h2d.matrix) == 1
    assert len(h2d.matrix[0]) == count
    assert min(v for v in h2d.matrix[0] if v is not None) >= figure * 0.99
    assert h2d.sum == pytest.approx(sum(v for v in h2d.matrix[0] if v is not None), abs=0.05)
    d2d = report.testcase("device_to_device_memcpy_read_ce")
    values = [v for row in d2d.matrix for v in row if v is not None]
    assert len(values) == count * (count - 1)
    assert all(d2d.matrix[i][i] is None for i in range(count))
    assert min(values) >= gpu_profile["performance"]["nvbandwidth_d2d_gbs"] * 0.99


def test_nvbandwidth_default_runs_every_testcase() -> None:
    report = parse_nvbandwidth(nvbandwidth.main([], profile_of("hgx-a100"), ENV).stdout)
    assert [c.name for c in report.testcases] == [c.key for c in nvbandwidth.TESTCASES]
    assert all(c.ran for c in report.testcases)


def test_nvbandwidth_low_figure_and_inactive_link() -> None:
    profile = profile_of("hgx-h100")
    profile["performance"]["nvbandwidth_d2d_gbs"] = 100.0
    profile["gpus"][2]["nvlinks"][0]["active"] = False
    report = parse_nvbandwidth(
        nvbandwidth.main(["-t", "device_to_device_memcpy_read_ce"], profile, ENV).stdout
    )
    matrix = report.testcases[0].matrix
    assert max(v for row in matrix for v in row if v is not None) <= 100.0
    assert matrix[0][2] is not None
    assert matrix[0][2] < matrix[0][1]


def test_nvbandwidth_unknown_testcase() -> None:
    run = nvbandwidth.main(["-t", "bogus_ce"], profile_of("hgx-h100"), ENV)
    assert "ERROR: Testcase bogus_ce not found!" in run.stdout


def test_ib_write_bw_reaches_the_profile_figure(gpu_profile: Profile) -> None:
    nic = next(n for n in gpu_profile["nics"] if n["role"] == "compute")
    run = perftest.main(["-d", nic["device"], "--report_gbits", "10.0.0.1"], gpu_profile, ENV)
    result = parse_perftest(run.stdout)
    assert run.code == 0
    assert result.fields["Device"] == nic["device"]
    assert result.bw_unit == "Gb/sec"
    figure = min(gpu_profile["performance"]["ib_write_bw_gbps"], nic["rate_gbps"] * 0.985)
    assert result.rows[0].bw_average == pytest.approx(figure, rel=0.01)
    assert result.rows[0].size_bytes == 65536


def test_ib_write_bw_low_figure_lower_rate_and_all_sizes() -> None:
    profile = profile_of("hgx-h100")
    profile["performance"]["ib_write_bw_gbps"] = 300.0
    low = parse_perftest(
        perftest.main(["-d", "mlx5_0", "--report_gbits", "x"], profile, ENV).stdout
    )
    assert low.rows[0].bw_average == pytest.approx(300.0, rel=0.01)
    profile = profile_of("hgx-h100")
    profile["nics"][0]["rate_gbps"] = 200
    slow = parse_perftest(perftest.main(["-d", "mlx5_0", "--report_gbits"], profile, ENV).stdout)
    assert slow.rows[0].bw_average is not None
    assert slow.rows[0].bw_average < 200
    sweep = parse_perftest(perftest.main(["-a", "-d", "mlx5_0"], profile, ENV).stdout)
    assert [r.size_bytes for r in sweep.rows] == [2**k for k in range(1, 24)]
    assert sweep.bw_unit == "MB/sec"


def test_ib_write_bw_on_a_port_that_is_down() -> None:
    profile = profile_of("hgx-h100")
    profile["nics"][0].update(state="Down", physical_state="Disabled")
    run = perftest.main(["-d", "mlx5_0", "--report_gbits"], profile, ENV)
    assert run.code == 1
    assert run.stderr == " Port number 1 state is Down\n Couldn't set the link layer\n"
    missing = perftest.main(["-d", "mlx5_77"], profile, ENV)
    assert missing.code == 1
    assert "IB device mlx5_77 not found" in missing.stderr

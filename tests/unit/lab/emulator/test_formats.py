"""The emulated tools print the real tools' layouts: checked against fixtures/real/ byte for byte.

Each test feeds the emulator the values a real capture shows and compares the emulator's lines
with the capture's (or, where the capture's values cannot all be reproduced, the layout: keys,
their order, indentation and column positions).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bringup.lab.emulator import (
    dcgmi,
    infiniband,
    nccl_tests,
    nvidia_smi,
    perftest,
    smi_links,
    smi_query,
    smi_report,
    smi_table,
)

from .conftest import ENV, profile_of

# The real captures live beside the repository, in ../shared (as for the parsers' tests).
REAL = Path(__file__).resolve().parents[4] / ".." / "shared" / "fixtures" / "real"


def real(path: str) -> str:
    """The text of one real capture; fails (not skips) when the shared folder is missing."""
    if not REAL.is_dir():
        pytest.fail(f"real fixtures not found at {REAL.resolve()}")
    return (REAL / path).read_text(encoding="utf-8")


def _h100(index: int, bus: str, **changes: Any) -> dict[str, Any]:
    gpu = profile_of("hgx-h100")["gpus"][0]
    gpu.update(index=index, pci_bus_id=f"00000000:{bus}:00.0", **changes)
    return gpu


def test_table_is_the_real_table() -> None:
    text = real("nvidia-smi-table/h100-80gb-hbm3_x8_550.90.07_gpud.txt")
    buses = ("19", "3B", "4C", "5D", "9B", "BB", "CB", "DB")
    temps = (27, 24, 23, 23, 27, 22, 24, 23)
    power = (72, 74, 70, 72, 73, 74, 73, 72)
    gpus = [
        _h100(i, bus, memory_used_mib=1, temperature_c=temps[i], power_draw_w=float(power[i]))
        for i, bus in enumerate(buses)
    ]
    profile = {"gpus": gpus, "driver": {"version": "550.90.07", "cuda": "12.4"}}
    rendered = smi_table.render(profile, gpus, datetime(2025, 1, 20, 10, 18, 26))
    assert rendered == text + "\n"  # the capture lost its last newline


def test_query_report_has_the_real_keys_in_the_real_order() -> None:
    lines = real("nvidia-smi-q/h100-80gb-hbm3_x8_535.183.01_gpud.txt").splitlines()
    start = lines.index("GPU 00000000:53:00.0")
    expected = lines[start + 1 : lines.index("", start)]
    profile = profile_of("hgx-h100")
    rendered = smi_report.render(profile, profile["gpus"][:1], datetime(2024, 6, 21)).splitlines()
    first = rendered.index("GPU 00000000:18:00.0")
    got = rendered[first + 1 : rendered.index("", first)]
    assert [_layout(line) for line in got] == [_layout(line) for line in expected]


def _layout(line: str) -> tuple[str, bool]:
    """A report line without its value: the padded key up to the colon, or the section name."""
    if len(line) > 42 and line[42] == ":":
        return line[:43], True
    return line.rstrip(), False


def test_query_report_header_is_the_real_header() -> None:
    lines = real("nvidia-smi-q/h100-80gb-hbm3_x8_535.161.08_gpud.txt").splitlines()[:8]
    profile = {"gpus": [{}] * 8, "driver": {"version": "535.161.08", "cuda": "12.2"}}
    stamp = datetime.strptime(lines[3].split(" : ")[1], "%a %b %d %H:%M:%S %Y")
    assert smi_report.render(profile, [], stamp).splitlines() == lines


def test_csv_header_names_and_units_are_the_real_ones() -> None:
    text = real("nvidia-smi-query-csv/h100-80gb-hbm3_590.48.01_idle_query-gpu.csv")
    header = text.splitlines()[0].split(", ")
    names = [re.sub(r" \[.*\]$", "", h) for h in header]
    known = [(name, h) for name, h in zip(names, header, strict=True) if name in smi_query.FIELDS]
    assert len(known) > 60
    for name, real_header in known:
        assert smi_query._header(name, units=True) == real_header


def test_nvlink_status_is_the_real_one() -> None:
    text = real("nvidia-smi-nvlink/h100-80gb-hbm3_590.48.01_nvlink-s.txt")
    gpu = _h100(0, "00", uuid="GPU-00000000-0000-0000-0000-000000000000")
    assert smi_links.nvlink_status([gpu]) == text


def test_topology_legend_and_cells_are_the_real_ones() -> None:
    text = real("nvidia-smi-topo/h100_x8_6nic_topo-m_princeton-della-pli_UNIDENTIFIED-REPO.txt")
    real_legend = text[text.index("\nLegend:") : text.index("\nNIC Legend:")]
    profile = profile_of("hgx-h100")
    rendered = smi_links.topology(profile, profile["gpus"])
    assert rendered[rendered.index("\nLegend:") : rendered.index("\nNIC Legend:")] == real_legend
    assert rendered.splitlines()[0].startswith("\tGPU0\tGPU1\t")
    assert rendered.splitlines()[0].endswith("\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID")
    assert rendered.splitlines()[1].startswith("GPU0\t X \tNV18\t")
    assert "\n  NIC0: mlx5_0\n" in rendered


def test_dcgmi_table_lines_are_dcgm_4s() -> None:
    expected = real("dcgmi-diag/dcgmi-diag_dcgm4.2.3-format_l40s_EXCERPT_DCGM-issue253.txt")
    expected_lines = expected.splitlines()[1:]  # the first line is the reporter's wrapper
    profile = profile_of("hgx-h100")
    profile["gpus"] = profile["gpus"][:4]
    profile["driver"]["version"] = "570.148.08"
    rendered = dcgmi.render(profile, dcgmi.run_tests(profile, 2)).splitlines()
    device_ids = "| GPU Device IDs Detected   | 2330, 2330, 2330, 2330                         |"
    expected_lines[7] = device_ids  # an L40S in the capture, an H100 here
    assert rendered[: len(expected_lines)] == expected_lines


def test_dcgmi_error_rows_wrap_as_dcgm_does() -> None:
    text = real(
        "dcgmi-diag/dcgmi-diag-r3_deployment-error-row-remap-pending_EXCERPT_ml-engineering.txt"
    )
    message = "GPU 3 has uncorrectable memory errors and row remappings are pending"
    assert dcgmi._wrapped("Error", message) == text.splitlines()[-2:]


def test_ibstat_port_is_the_real_one() -> None:
    text = real("infiniband/ibstat/h100-node_cx7_some-ports-down_0_gpud.txt")
    block = text.split("CA 'mlx5_1'")[0]
    nic = {"device": "mlx5_0", "port": 1, "ca_type": "MT4129", "firmware": "28.39.1002",
           "node_guid": "0x946dae0300cde72c", "port_guid": "0x946dae0300cde72c",
           "state": "Active", "physical_state": "LinkUp", "rate_gbps": 400, "lid": 75,
           "sm_lid": 334, "link_layer": "InfiniBand"}  # fmt: skip
    run = infiniband.ibstat([], {"nics": [nic]}, ENV)
    lines = run.stdout.splitlines()
    lines[6] = "\tSystem image GUID: 0x946dae0300cde72c"
    assert "\n".join(lines) + "\n" == block


def test_ibstat_down_ethernet_port_is_the_real_one() -> None:
    text = real("infiniband/ibstat/h100-node_cx7_some-ports-down_0_gpud.txt")
    real_port = text[text.index("\tPort 1:\n\t\tState: Down") :].split("CA '")[0]
    nic = {"device": "mlx5_1", "port": 1, "node_guid": "0x1", "port_guid": "0x966daefffec2b691",
           "state": "Down", "physical_state": "Disabled", "rate_gbps": 100,
           "link_layer": "Ethernet"}  # fmt: skip
    assert "\n".join(infiniband._ibstat_port(nic)) + "\n" == real_port


def test_ibstatus_block_is_the_real_one() -> None:
    text = real("infiniband/ibstatus/a100-azure-ndv4_all-active_gpud.txt")
    block = text.split("\n\n")[0] + "\n\n"
    nic = {"device": "mlx5_0", "port": 1, "port_guid": "0x00155dfffd3411eb", "lid": 0x33BF,
           "sm_lid": 1, "state": "Active", "physical_state": "LinkUp", "rate_gbps": 200,
           "link_layer": "InfiniBand"}  # fmt: skip
    assert infiniband.ibstatus([], {"nics": [nic]}, ENV).stdout == block


def test_ibv_devinfo_aligns_as_the_real_one() -> None:
    text = real("infiniband/ibv_devinfo/h100-node_cx7-roce_mlx5_2_EXCERPT_DeepEP-issue38.txt")
    nic = {"device": "mlx5_2", "port": 1, "ca_type": "MT4129", "firmware": "28.42.1000",
           "node_guid": "0xa088c203007e1dba", "port_guid": "0x1", "state": "Active",
           "physical_state": "LinkUp", "rate_gbps": 400, "link_layer": "Ethernet"}  # fmt: skip
    rendered = infiniband.ibv_devinfo([], {"nics": [nic]}, ENV).stdout.expandtabs(8)
    assert rendered == text + "\n"


def test_perfquery_extended_layout_is_the_real_one() -> None:
    text = real("infiniband/perfquery/edr-fabric_0x7cfe9003003b4b96_perfquery-x.txt")
    nic = {"device": "mlx5_0", "port": 1, "lid": 133, "state": "Active",
           "link_layer": "InfiniBand", "counters": {}}  # fmt: skip
    rendered = infiniband.render_perfquery(nic, extended=True).splitlines()
    expected = [line for line in text.splitlines() if line]
    assert [line.split(":")[0] + ":" for line in rendered[1:]] == [
        line.split(":")[0] + ":" for line in expected[1:]
    ]
    assert all(re.match(r"^\w+:\.+\S+$", line) and line.index(".") >= 10 for line in rendered[1:])
    assert [len(re.match(r"^\w+:\.*", x).group()) for x in rendered[1:]] == [33] * 25
    assert rendered[0].startswith("# Port extended counters: Lid 133 port 1 (CapMask: ")


def test_nccl_rows_are_the_real_rows() -> None:
    text = real("nccl-tests/all_reduce_perf_a100_x8-1node_gcm.txt")
    for line in [x for x in text.splitlines() if x and not x.startswith("#")][1:]:
        cells = line.split()
        timings = [(float(cells[5 + 4 * k]), float(cells[6 + 4 * k]), float(cells[7 + 4 * k]))
                   for k in (0, 1)]  # fmt: skip
        assert nccl_tests.row_text(int(cells[0]), int(cells[1]), "float", "sum", timings) == line


def test_nccl_header_is_the_real_header() -> None:
    text = real("nccl-tests/all_reduce_perf_h100_gcp-a3mega-x2nodes-16gpu_ztan.txt")
    header = [x for x in text.splitlines() if x.startswith("#       size") or "(elements)" in x]
    run = nccl_tests.main(
        ["-b", "8", "-e", "64", "-f", "2", "-g", "8"], profile_of("hgx-h100"), ENV
    )
    assert [x for x in run.stdout.splitlines() if x in header] == header
    out_of_place = next(x for x in text.splitlines() if "out-of-place" in x)
    assert out_of_place in run.stdout.splitlines()
    assert run.stdout.splitlines()[-1].startswith("# Avg bus bandwidth    : ")


def test_perftest_result_row_is_the_real_row() -> None:
    text = real("perftest/ib_write_bw_roce_cx5-100g_dgx1-v100_deepops.txt")
    expected = next(x for x in text.splitlines() if x.strip().startswith("65536")).expandtabs(8)
    row = perftest.result_row(65536, 5000, 92.42, 92.40, 0.176230)
    assert "   " + row.expandtabs(8) == expected  # tabs expanded, then indented by markdown


def test_perftest_banner_is_the_real_one() -> None:
    text = real("perftest/ib_write_bw_roce_header-to-results_EXCERPT_perftest-issue234.txt")
    expected = text.splitlines()[5:18]
    nic = {"device": "mlx5_0", "link_layer": "Ethernet"}
    banner = perftest.banner(nic, "mlx5_0")
    assert banner[:6] == expected[:6]
    assert banner[7:] == expected[6:]  # the capture's client ran without a TX depth line


def test_version_lines_are_the_real_ones() -> None:
    bundle = real("nvidia-smi-bundles/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt")
    expected = bundle[bundle.index("NVIDIA-SMI version") :].split("\n\n")[0] + "\n"
    profile = {"driver": {"version": "590.48.01", "cuda": "13.1"}, "gpus": []}
    assert nvidia_smi.main(["--version"], profile, ENV).stdout == expected

"""nvidia-smi --query-*: real --format=csv captures; noheader and nounits from the same text."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvidia_smi import csv_int, csv_missing, csv_number, parse_query_csv

from .conftest import real

H100_IDLE = "nvidia-smi-query-csv/h100-80gb-hbm3_590.48.01_idle_query-gpu.csv"


def test_h100_query_gpu_rows_are_keyed_by_field_name() -> None:
    table = parse_query_csv(real(H100_IDLE))
    assert len(table.fields) == 212
    (row,) = table.rows
    assert row["name"] == "NVIDIA H100 80GB HBM3"
    assert row["pci.bus_id"] == "00000000:00:09.0"
    assert row["driver_version"] == "590.48.01"
    assert row["memory.total"] == "81559 MiB"
    assert table.units["memory.total"] == "MiB"
    assert "memory.total [MiB]" not in table.fields
    assert row["remapped_rows.pending"] == "No"
    assert row["fabric.state"] == "Completed"
    assert row["platform.peer_type"] == "Direct Connected"


def test_number_helpers_read_units_hex_and_na() -> None:
    row = parse_query_csv(real(H100_IDLE)).rows[0]
    assert csv_number(row["memory.total"]) == 81559.0
    assert csv_int(row["pcie.link.width.current"]) == 16
    assert csv_int(row["pci.device_id"]) == 0x233010DE
    assert csv_number(row["ecc.errors.uncorrected.volatile.dram"]) == 0.0
    assert row["vgpu_driver_capability.heterogenous_multivGPU"] == "[N/A]"
    assert csv_number(row["vgpu_driver_capability.heterogenous_multivGPU"]) is None
    assert csv_missing(row["display_mode"])  # "[Requested functionality has been deprecated]"
    assert csv_int(row["clocks_event_reasons.active"]) == 1  # 0x0000000000000001: idle
    with pytest.raises(ValueError, match="not a number"):
        csv_number(row["name"])
    with pytest.raises(ValueError, match="not a number"):
        csv_number("12abc")


def test_load_draws_more_power_than_idle() -> None:
    idle = parse_query_csv(real(H100_IDLE)).rows[0]
    load = parse_query_csv(
        real("nvidia-smi-query-csv/h100-80gb-hbm3_590.48.01_load_query-gpu.csv")
    ).rows[0]
    assert csv_number(idle["power.draw"]) == 69.85
    assert (csv_number(load["power.draw"]) or 0) > 400
    assert csv_number(load["utilization.gpu"]) == 100.0


@pytest.mark.parametrize("gpu", ["h100-80gb-hbm3", "h200"])
def test_retired_pages_query_lists_both_causes_with_no_address(gpu: str) -> None:
    table = parse_query_csv(
        real(f"nvidia-smi-query-csv/{gpu}_590.48.01_idle_query-retired-pages.csv")
    )
    assert table.column("retired_pages.cause") == ("Single Bit ECC", "Double Bit ECC")
    assert all(csv_missing(address) for address in table.column("retired_pages.address"))


def test_mig_captures_report_mig_mode() -> None:
    for gpu in ("h100-mig", "h200-mig"):
        row = parse_query_csv(
            real(f"nvidia-smi-query-csv/{gpu}_590.48.01_idle_query-gpu.csv")
        ).rows[0]
        assert row["mig.mode.current"] == "Enabled"


def test_excerpt_with_elided_rows() -> None:
    table = parse_query_csv(
        real("nvidia-smi-query-csv/h100-80gb-hbm3_name-busid-vbios_EXCERPT_ml-engineering.csv")
    )
    assert table.elided
    assert table.fields == ("name", "pci.bus_id", "vbios_version")
    assert table.column("pci.bus_id") == ("00000000:04:00.0", "00000000:8B:00.0")
    with pytest.raises(KeyError):
        table.column("serial")


def test_an_elision_written_as_three_dots_is_read_past() -> None:
    text = "name, pci.bus_id\nNVIDIA H100 80GB HBM3, 00000000:04:00.0\n...\n"
    table = parse_query_csv(text)
    assert table.elided
    assert table.column("pci.bus_id") == ("00000000:04:00.0",)


def test_noheader_and_nounits_with_the_queried_fields() -> None:
    text = "NVIDIA H100 80GB HBM3, 81559, [N/A]\nNVIDIA H100 80GB HBM3, 81559, 0\n"
    table = parse_query_csv(
        text, fields=["name", "memory.total", "ecc.errors.uncorrected.volatile.total"]
    )
    assert len(table.rows) == 2
    assert csv_int(table.rows[0]["memory.total"]) == 81559
    assert csv_int(table.rows[0]["ecc.errors.uncorrected.volatile.total"]) is None
    assert table.units == {}


def test_a_header_is_skipped_when_it_names_the_queried_fields() -> None:
    table = parse_query_csv(
        "name, memory.total [MiB]\nA100, 40960 MiB\n", fields=["name", "memory.total"]
    )
    assert table.column("name") == ("A100",)


def test_noheader_without_fields_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="noheader") as raised:
        parse_query_csv("NVIDIA H100 80GB HBM3, 81559 MiB\n")
    assert raised.value.lineno == 1


def test_a_short_row_names_its_line() -> None:
    text = "name, serial, uuid\nNVIDIA H100, 1650124031592, GPU-1\nNVIDIA H100, 1650124008135\n"
    with pytest.raises(ParseError, match="2 values for 3 fields") as raised:
        parse_query_csv(text)
    assert raised.value.lineno == 3


def test_empty_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="empty input"):
        parse_query_csv("\n")

"""The default `nvidia-smi` table: a real 8x H100 capture and 590 captures with MIG and load."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvidia_smi import parse_capture_bundle, parse_table

from .conftest import real

H100_X8 = "nvidia-smi-table/h100-80gb-hbm3_x8_550.90.07_gpud.txt"


def test_h100_x8_table() -> None:
    table = parse_table(real(H100_X8))
    assert (table.smi_version, table.driver_version, table.cuda_version) == (
        "550.90.07",
        "550.90.07",
        "12.4",
    )
    assert table.timestamp == "Mon Jan 20 10:18:26 2025"
    assert [gpu.index for gpu in table.gpus] == list(range(8))
    first = table.gpus[0]
    assert first.name == "NVIDIA H100 80GB HBM3"
    assert first.persistence_mode is True
    assert first.bus_id == "00000000:19:00.0"
    assert (first.temperature_c, first.power_usage_w, first.power_cap_w) == (27, 72.0, 700.0)
    assert (first.memory_used_mib, first.memory_total_mib) == (1, 81559)
    assert (first.utilization_gpu, first.compute_mode, first.mig_mode) == (0, "Default", "Disabled")
    assert first.volatile_uncorrected_ecc == "0"
    assert table.gpus[7].bus_id == "00000000:DB:00.0"
    assert table.processes == ()


def test_h200_mig_under_load_lists_mig_devices_and_processes() -> None:
    bundle = parse_capture_bundle(
        real("nvidia-smi-bundles/linux-x86_64__nvidia-h200-mig__590.48.01.txt")
    )
    table = parse_table(bundle.section("load", "nvidia-smi (default table)").text)
    (gpu,) = table.gpus
    assert (gpu.mig_mode, gpu.utilization_gpu, gpu.power_usage_w) == ("Enabled", None, 295.0)
    assert [(m.gpu_instance, m.compute_instance, m.device) for m in table.mig_devices] == [
        (2, 0, 0),
        (2, 1, 1),
        (3, 0, 2),
        (9, 0, 3),
        (10, 0, 4),
    ]
    assert table.mig_devices[0].memory_total_mib == 71424
    assert [(p.pid, p.name, p.memory_mib) for p in table.processes][-1] == (
        12267,
        "./gpu_burn",
        13526,
    )
    assert {p.gpu_instance for p in table.processes} == {"2"}


def test_truncated_gpu_row_is_a_parse_error() -> None:
    lines = real(H100_X8).splitlines()
    cut = next(i for i, line in enumerate(lines) if "00000000:19:00.0" in line) + 1
    with pytest.raises(ParseError, match="truncated") as raised:
        parse_table("\n".join(lines[:cut]))
    assert raised.value.lineno == cut


def test_text_that_is_not_the_table_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no 'NVIDIA-SMI") as raised:
        parse_table("hello\n")
    assert raised.value.lineno == 1
    text = real(H100_X8).rstrip("\n")
    with pytest.raises(ParseError, match="outside the table") as raised:
        parse_table(text + "\ntrailing words\n")
    assert raised.value.lineno == len(text.splitlines()) + 1
    with pytest.raises(ParseError, match="not a table border") as raised:
        parse_table(text + "trailing words\n")
    assert raised.value.lineno == len(text.splitlines())


def test_a_mangled_gpu_row_names_its_line() -> None:
    text = real(H100_X8).replace(
        "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:19:00.0 Off |",
        "|   0  NVIDIA H100 80GB HBM3          On  |   nowhere |",
    )
    with pytest.raises(ParseError, match="bus id") as raised:
        parse_table(text)
    assert raised.value.lineno == 9

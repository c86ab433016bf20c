"""nvidia-smi -q (text): real captures from H100/H200/A100 and GB200-class fabric excerpts."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvidia_smi import parse_capture_bundle, parse_query

from .conftest import real

H100_X8 = "nvidia-smi-q/h100-80gb-hbm3_x8_535.161.08_gpud.txt"


def test_h100_x8_has_eight_gpus_with_their_serials_and_uuids() -> None:
    report = parse_query(real(H100_X8))
    assert report.driver_version == "535.161.08"
    assert report.cuda_version == "12.2"
    assert report.attached_gpus == len(report.gpus) == 8
    first = report.gpus[0]
    assert first.bus_id == "00000000:19:00.0"
    assert first.name == "NVIDIA H100 80GB HBM3"
    assert first.serial == "1650124031592"
    assert first.uuid == "GPU-ee7954ec-da95-fd7a-ddfd-c6b32cc2f8aa"
    assert report.gpus[7].serial == "1650124007084"
    assert report.gpu("00000000:3b:00.0").serial == "1650124008135"
    assert [gpu.index for gpu in report.gpus] == list(range(8))


def test_h100_x8_is_healthy_ecc_remap_pcie_and_power() -> None:
    for gpu in parse_query(real(H100_X8)).gpus:
        assert gpu.persistence_mode is True
        assert gpu.ecc is not None
        assert gpu.ecc.volatile.uncorrectable_total == 0
        assert gpu.ecc.volatile.sram_uncorrectable_secded == 0
        assert gpu.ecc.aggregate.correctable_total == 0
        assert gpu.ecc.sram_threshold_exceeded is False
        assert gpu.remapped_rows is not None
        assert gpu.remapped_rows.pending is False
        assert gpu.remapped_rows.failure is False
        assert gpu.remapped_rows.histogram["max"] == 2560
        assert gpu.pcie is not None
        assert (gpu.pcie.gen_current, gpu.pcie.width_current) == (5, 16)
        assert not gpu.pcie.downgraded
        assert gpu.fb_total_mib == 81559
        assert gpu.power is not None
        assert gpu.power.limit == 700.0
        assert gpu.fabric is not None
        assert (gpu.fabric.state, gpu.fabric.status) == ("Completed", "Success")


def test_h100_x8_reports_the_power_brake_clock_event_reason() -> None:
    gpu = parse_query(real(H100_X8)).gpus[0]
    assert gpu.clock_event_reasons["hw_slowdown"] is True
    assert gpu.active_clock_event_reasons == ("hw_power_brake_slowdown", "hw_slowdown")
    assert gpu.temperatures is not None
    assert gpu.temperatures.gpu == 29


def test_h100_535_183_pcie_replays_are_read_per_gpu() -> None:
    report = parse_query(real("nvidia-smi-q/h100-80gb-hbm3_x8_535.183.01_gpud.txt"))
    replays = [gpu.pcie.replays for gpu in report.gpus if gpu.pcie is not None]
    assert report.gpus[0].bus_id == "00000000:53:00.0"
    assert replays == [120, 111, 58, 60, 63, 93, 69, 78]
    assert report.gpus[0].fields["GPU Virtualization Mode/Virtualization Mode"] == "Pass-Through"


def test_a100_excerpt_shows_pending_row_remap_and_dram_correctable() -> None:
    report = parse_query(
        real(
            "nvidia-smi-q/a100-sxm4-80gb_x8_510.73.08_remapped-rows-pending_EXCERPT_ml-engineering.txt"
        )
    )
    assert report.elided
    assert report.attached_gpus == 8
    (gpu,) = report.gpus
    assert gpu.bus_id == "00000000:10:1C.0"
    assert gpu.name == "NVIDIA A100-SXM4-80GB"
    assert gpu.serial is None  # elided by the author, not absent on the GPU
    assert gpu.ecc is not None
    assert gpu.ecc.volatile.dram_correctable == 177
    assert gpu.ecc.volatile.sram_uncorrectable == 0
    assert gpu.remapped_rows is not None
    assert gpu.remapped_rows.pending is True
    assert gpu.remapped_rows.correctable == 1
    assert gpu.remapped_rows.histogram == {"max": 639, "high": 1, "partial": 0, "low": 0, "none": 0}
    assert gpu.retired_pages is not None
    assert gpu.retired_pages.single_bit_ecc is None


@pytest.mark.parametrize("marker", ["[...]", "...", "    ..."])
def test_every_elision_marker_is_read_past_and_recorded(marker: str) -> None:
    text = (
        "GPU 00000000:19:00.0\n"
        "    Product Name                          : NVIDIA H100 80GB HBM3\n"
        f"{marker}\n"
        "    Serial Number                         : 1652523012345\n"
    )
    report = parse_query(text)
    assert report.elided
    assert (report.gpus[0].name, report.gpus[0].serial) == (
        "NVIDIA H100 80GB HBM3",
        "1652523012345",
    )


def test_fabric_excerpt_unhealthy_without_a_gpu_line() -> None:
    report = parse_query(
        real(
            "nvidia-smi-q/fabric-section_health-unhealthy_gb200-class_EXCERPT_dra-driver-issue626.txt"
        )
    )
    (gpu,) = report.gpus
    assert gpu.bus_id is None
    assert gpu.fabric is not None
    assert gpu.fabric.health_summary == "Unhealthy"
    assert gpu.fabric.health["Bandwidth"] == "Full"
    assert gpu.fabric.clique_id == "2"
    assert gpu.fabric.cluster_uuid == "dc6e40c4-d722-4357-9ba6-5291dd461278"
    assert gpu.fabric.state == "Completed"


def test_fabric_excerpt_registration_still_in_progress() -> None:
    report = parse_query(
        real(
            "nvidia-smi-q/fabric-section_state-in-progress_580.159.04_EXCERPT_gpu-operator-issue2511.txt"
        )
    )
    fabric = report.gpus[0].fabric
    assert fabric is not None
    assert fabric.state == "In Progress"
    assert fabric.status == "N/A"
    assert fabric.health["Partition Assigned"] == "N/A"


@pytest.mark.parametrize(
    ("name", "mig_devices", "fb_total", "remap_max"),
    [
        ("nvidia-smi-q/h100-80gb-hbm3_590.48.01_idle.txt", 0, 81559, 2560),
        ("nvidia-smi-q/h200_590.48.01_idle.txt", 0, 143771, 3072),
        ("nvidia-smi-q/h100-mig_590.48.01_idle.txt", 4, 81559, None),
        ("nvidia-smi-q/h200-mig_590.48.01_idle.txt", 5, 143771, None),
    ],
)
def test_590_single_gpu_captures_with_and_without_mig(
    name: str, mig_devices: int, fb_total: int, remap_max: int | None
) -> None:
    report = parse_query(real(name))
    assert report.driver_version == "590.48.01"
    (gpu,) = report.gpus
    assert gpu.mig_devices == mig_devices
    assert gpu.mig_mode == ("Enabled" if mig_devices else "Disabled")
    assert gpu.fb_total_mib == fb_total
    # In MIG mode the driver prints "Remapped Rows : N/A": unknown, not zero.
    if remap_max is None:
        assert gpu.remapped_rows is None
    else:
        assert gpu.remapped_rows is not None
        assert gpu.remapped_rows.histogram["max"] == remap_max
    assert gpu.fields["PCI/GPU Link Info/PCIe Generation/Max"] == "5"
    assert gpu.processes == ()


def test_processes_under_load_carry_gpu_and_compute_instance() -> None:
    bundle = parse_capture_bundle(
        real("nvidia-smi-bundles/linux-x86_64__nvidia-h200-mig__590.48.01.txt")
    )
    report = parse_query(bundle.section("load", "query (-q)").text)
    processes = report.gpus[0].processes
    assert [p.pid for p in processes] == [12249, 12250, 12267]
    assert processes[2].name == "./gpu_burn"
    assert processes[2].used_memory_mib == 13526
    assert {(p.gpu_instance_id, p.compute_instance_id) for p in processes} == {(2, 1)}


def test_empty_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as raised:
        parse_query("  \n")
    assert (raised.value.tool, raised.value.lineno) == ("nvidia-smi -q", 1)


def test_garbage_is_a_parse_error_naming_the_line() -> None:
    with pytest.raises(ParseError) as raised:
        parse_query("hello world\nthis is not nvidia-smi\n")
    assert raised.value.lineno == 1
    assert "nvidia-smi -q: line 1" in str(raised.value)


def test_unknown_key_values_are_not_taken_for_a_gpu() -> None:
    with pytest.raises(ParseError, match="not a section of nvidia-smi -q"):
        parse_query("colour : blue\n")


def test_truncated_after_a_section_title_is_a_parse_error() -> None:
    lines = real(H100_X8).splitlines()
    cut = lines.index("    ECC Errors") + 1
    with pytest.raises(ParseError, match="truncated") as raised:
        parse_query("\n".join(lines[:cut]))
    assert raised.value.lineno == cut
    assert raised.value.line == "ECC Errors"

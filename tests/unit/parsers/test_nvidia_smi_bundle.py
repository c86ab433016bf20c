"""Capture bundles: split into sections; each section equals the standalone real fixture."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvidia_smi import SECTION_PARSERS, NvidiaSmiReport, parse_capture_bundle

from .conftest import real

BUNDLES = {
    "h100-80gb-hbm3": "nvidia-smi-bundles/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt",
    "h100-mig": "nvidia-smi-bundles/linux-x86_64__nvidia-h100-mig__590.48.01.txt",
    "h200-mig": "nvidia-smi-bundles/linux-x86_64__nvidia-h200-mig__590.48.01.txt",
    "h200": "nvidia-smi-bundles/linux-x86_64__nvidia-h200__590.48.01.txt",
}

# (fixture, bundle, phase, section): the fixtures were cut from these sections byte for byte.
EXTRACTED = (
    [(f"nvidia-smi-q/{gpu}_590.48.01_idle.txt", gpu, "idle", "query (-q)") for gpu in BUNDLES]
    + [
        (
            f"nvidia-smi-query-csv/{gpu}_590.48.01_idle_query-gpu.csv",
            gpu,
            "idle",
            "query-gpu (csv, what the exporter parses)",
        )
        for gpu in BUNDLES
    ]
    + [
        (
            "nvidia-smi-query-csv/h200_590.48.01_load_query-gpu.csv",
            "h200",
            "load",
            "query-gpu (csv, what the exporter parses)",
        ),
        (
            "nvidia-smi-query-csv/h200_590.48.01_idle_query-retired-pages.csv",
            "h200",
            "idle",
            "query-retired-pages",
        ),
        (
            "nvidia-smi-topo/h100-80gb-hbm3_590.48.01_1gpu_topo-m.txt",
            "h100-80gb-hbm3",
            "capabilities",
            "topo -m",
        ),
        ("nvidia-smi-nvlink/h200_590.48.01_nvlink-s.txt", "h200", "capabilities", "nvlink -s"),
    ]
)


@pytest.mark.parametrize(("fixture", "gpu", "phase", "section"), EXTRACTED)
def test_sections_are_the_standalone_captures(
    fixture: str, gpu: str, phase: str, section: str
) -> None:
    bundle = parse_capture_bundle(real(BUNDLES[gpu]))
    assert bundle.section(phase, section).text == real(fixture)


@pytest.mark.parametrize("gpu", sorted(BUNDLES))
def test_every_section_with_a_parser_parses(gpu: str) -> None:
    bundle = parse_capture_bundle(real(BUNDLES[gpu]))
    parsed = [section.name for section in bundle.sections if section.name in SECTION_PARSERS]
    assert len(parsed) == 14
    for section in bundle.sections:
        if section.name in SECTION_PARSERS:
            section.parse()


def test_header_commands_and_load_section() -> None:
    bundle = parse_capture_bundle(real(BUNDLES["h100-80gb-hbm3"]))
    assert bundle.header["collected_at"] == "2026-07-14T08:12:38Z"
    assert bundle.header["masked"] == "yes"
    assert len(bundle.sections) == 27
    query = bundle.section("load", "query (-q)")
    assert query.command == "nvidia-smi -q"
    assert real(BUNDLES["h100-80gb-hbm3"]).splitlines()[query.lineno - 2] == "#" * 80
    report = query.parse()
    assert isinstance(report, NvidiaSmiReport)
    power = report.gpus[0].power
    assert power is not None
    assert (power.draw or 0) > 400
    symbols = bundle.section("capabilities", "nvml-symbols")
    assert symbols.command is not None
    assert symbols.command.startswith("readelf")
    assert "nvmlDeviceGetRemappedRows" in symbols.text
    with pytest.raises(KeyError):
        symbols.parse()
    with pytest.raises(KeyError):
        bundle.section("idle", "no such section")


def test_text_without_sections_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no '# <phase> :: <name>' section"):
        parse_capture_bundle("collected_at: now\n")


def test_an_unclosed_title_names_its_line() -> None:
    text = "#" * 80 + "\n# idle :: query (-q)\n# $ nvidia-smi -q\nno frame\n"
    with pytest.raises(ParseError, match="not closed") as raised:
        parse_capture_bundle(text)
    assert raised.value.lineno == 4

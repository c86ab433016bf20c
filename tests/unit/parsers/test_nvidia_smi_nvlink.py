"""nvidia-smi nvlink -s: real A100 x8, B200, H100 and H200 captures; inactive links synthesised.

No real capture shows an inactive link; the "<inactive>" spelling is the driver's (earlier
drivers print "inactive").
"""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvidia_smi import parse_capture_bundle, parse_nvlink_status

from .conftest import real


def test_a100_x8_twelve_links_at_25() -> None:
    gpus = parse_nvlink_status(real("nvidia-smi-nvlink/a100-sxm4-80gb_x8_nvlink-status_gpud.txt"))
    assert [gpu.index for gpu in gpus] == list(range(8))
    assert gpus[0].uuid == "GPU-5269b708-678a-b1a8-60f0-c90406537486"
    assert gpus[0].name == "NVIDIA A100-SXM4-80GB"
    for gpu in gpus:
        assert [link.link for link in gpu.links] == list(range(12))
        assert {link.speed_gbps for link in gpu.links} == {25.0}
        assert gpu.inactive_links == ()


@pytest.mark.parametrize(
    ("name", "links", "speed"),
    [
        ("nvidia-smi-nvlink/b200_nvlink-s_EXCERPT_nvbandwidth-issue44.txt", 12, 50.0),
        ("nvidia-smi-nvlink/h100-80gb-hbm3_590.48.01_nvlink-s.txt", 18, 26.562),
        ("nvidia-smi-nvlink/h200_590.48.01_nvlink-s.txt", 18, 26.562),
    ],
)
def test_single_gpu_captures(name: str, links: int, speed: float) -> None:
    (gpu,) = parse_nvlink_status(real(name))
    assert len(gpu.links) == links
    assert all(link.active and link.speed_gbps == speed for link in gpu.links)


def test_mig_mode_gpu_has_a_note_and_no_links() -> None:
    bundle = parse_capture_bundle(
        real("nvidia-smi-bundles/linux-x86_64__nvidia-h100-mig__590.48.01.txt")
    )
    (gpu,) = parse_nvlink_status(bundle.section("capabilities", "nvlink -s").text)
    assert gpu.links == ()
    assert gpu.note == "Nvlink queries are not supported for Devices in MIG mode"


def test_inactive_links_are_named() -> None:
    text = (
        "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\n"
        "\t Link 0: 26.562 GB/s\n\t Link 1: <inactive>\n\t Link 2: inactive\n"
        "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)\n\t Link 0: 26.562 GB/s\n"
    )
    gpus = parse_nvlink_status(text)
    assert gpus[0].inactive_links == (1, 2)
    assert gpus[0].links[1].speed_gbps is None
    assert gpus[1].inactive_links == ()


def test_unknown_link_state_names_its_line() -> None:
    with pytest.raises(ParseError, match="neither a speed nor inactive") as raised:
        parse_nvlink_status("GPU 0: X (UUID: GPU-1)\n\t Link 0: 26.562 GB/s\n\t Link 1: fast\n")
    assert raised.value.lineno == 3


def test_garbage_and_empty_are_parse_errors() -> None:
    with pytest.raises(ParseError, match="expected 'GPU n") as raised:
        parse_nvlink_status("no nvlink here\n")
    assert raised.value.lineno == 1
    with pytest.raises(ParseError, match="empty"):
        parse_nvlink_status("")

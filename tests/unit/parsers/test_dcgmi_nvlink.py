"""dcgmi nvlink --link-status: the real H100 NVL capture with every link down."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.dcgmi import parse_dcgmi_nvlink_status

from .conftest import real


def test_h100_nvl_all_eighteen_links_down_on_both_gpus() -> None:
    status = parse_dcgmi_nvlink_status(
        real("dcgmi-diag/dcgmi-nvlink-link-status_all-down_h100nvl_DCGM-issue198.txt")
    )
    assert sorted(status.gpus) == [0, 1]
    assert status.gpus[0] == ("Down",) * 18
    assert status.down_links() == {0: tuple(range(18)), 1: tuple(range(18))}
    assert status.switches == {}


def test_switches_and_mixed_states() -> None:
    text = (
        "+----------------------+\n|  NvLink Link Status  |\n+----------------------+\n"
        "GPUs:\n    gpuId 0:\n        U U D X _\nNvSwitches:\n    physicalId 8:\n        U U\n"
        "\nKey: Up=U, Down=D, Disabled=X, Not Supported=_\n"
    )
    status = parse_dcgmi_nvlink_status(text)
    assert status.gpus[0] == ("Up", "Up", "Down", "Disabled", "Not Supported")
    assert status.down_links() == {0: (2,)}
    assert status.switches == {8: ("Up", "Up")}


def test_an_unknown_state_names_its_line() -> None:
    text = "GPUs:\n    gpuId 0:\n        U Q\n"
    with pytest.raises(ParseError, match="link states") as raised:
        parse_dcgmi_nvlink_status(text)
    assert raised.value.lineno == 3


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no 'NvLink Link Status' output") as raised:
        parse_dcgmi_nvlink_status("Error: unable to establish a connection\n")
    assert raised.value.lineno == 1

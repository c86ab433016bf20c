"""ibv_devinfo: two real excerpts (ConnectX-5 and ConnectX-7 in RoCE mode)."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.infiniband import parse_ibv_devinfo

from .conftest import real


def test_cx5_with_small_active_mtu_and_cut_cx7() -> None:
    cx5, cx7 = parse_ibv_devinfo(
        real("infiniband/ibv_devinfo/gpu-node_cx5-and-cx7_mlx5_6-7_EXCERPT_DeepEP-issue60.txt")
    )
    assert (cx5.hca_id, cx5.vendor_part_id, cx5.fw_ver) == ("mlx5_6", 4119, "16.32.1010")
    assert cx5.node_guid == "e8eb:d303:00dd:188f"
    (port,) = cx5.ports
    assert (port.state, port.state_code, port.max_mtu, port.active_mtu) == (
        "PORT_ACTIVE",
        4,
        4096,
        1024,
    )
    assert port.link_layer == "Ethernet"
    assert port.fields["port_lmc"] == "0x00"
    assert cx5.complete
    assert (cx7.hca_id, cx7.vendor_part_id, cx7.board_id) == ("mlx5_7", 4129, "MT_0000000838")
    assert cx7.ports == ()
    assert not cx7.complete  # phys_port_cnt 1, but the excerpt stops before the port


def test_cx7_roce_port() -> None:
    (device,) = parse_ibv_devinfo(
        real("infiniband/ibv_devinfo/h100-node_cx7-roce_mlx5_2_EXCERPT_DeepEP-issue38.txt")
    )
    assert (device.transport, device.fw_ver, device.vendor_id) == (
        "InfiniBand (0)",
        "28.42.1000",
        "0x02c9",
    )
    (port,) = device.ports
    assert port.active
    assert (port.active_mtu, port.sm_lid, port.port_lid) == (4096, 0, 0)


def test_verbose_capability_flags_continue_their_field() -> None:
    text = (
        "hca_id:\tmlx5_0\n\ttransport:\t\t\tInfiniBand (0)\n\tdevice_cap_flags:\t\t0x21361c36\n"
        "\t\t\t\t\tBAD_PKEY_CNTR\n\t\t\t\t\tAUTO_PATH_MIG\n\tphys_port_cnt:\t\t\t1\n"
        "\t\tport:\t1\n\t\t\tstate:\t\t\tPORT_DOWN (1)\n\t\t\tGID[  0]:\t\tfe80:0000:0000:0000\n"
    )
    (device,) = parse_ibv_devinfo(text)
    assert device.fields["device_cap_flags"] == "0x21361c36 BAD_PKEY_CNTR AUTO_PATH_MIG"
    (port,) = device.ports
    assert (port.state, port.active) == ("PORT_DOWN", False)
    assert port.fields["GID[  0]"] == "fe80:0000:0000:0000"


def test_no_devices() -> None:
    assert parse_ibv_devinfo("No IB devices found\n") == ()


def test_garbage_names_its_line() -> None:
    with pytest.raises(ParseError, match="hca_id") as raised:
        parse_ibv_devinfo("\ttransport: InfiniBand (0)\n")
    assert raised.value.lineno == 1
    with pytest.raises(ParseError, match="key: value") as raised:
        parse_ibv_devinfo("hca_id:\tmlx5_0\n\tlowercase words without a colon\n")
    assert raised.value.lineno == 2

"""ibstatus: the real capture of the same A100 node type as the ibpanic ibstat capture."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.infiniband import parse_ibstatus

from .conftest import real


def test_nine_ports_hdr_and_an_ethernet_port() -> None:
    ports = parse_ibstatus(real("infiniband/ibstatus/a100-azure-ndv4_all-active_gpud.txt"))
    assert [port.device for port in ports] == [f"mlx5_{i}" for i in range(9)]
    first = ports[0]
    assert first.default_gid == "fe80:0000:0000:0000:0015:5dff:fd34:11eb"
    assert (first.base_lid, first.sm_lid) == (0x33BF, 1)
    assert (first.state, first.state_code, first.physical_state) == ("ACTIVE", 4, "LinkUp")
    assert (first.rate_gbps, first.rate_width, first.link_layer) == (200.0, "4X HDR", "InfiniBand")
    assert all(port.active for port in ports)
    last = ports[-1]
    assert (last.rate_gbps, last.rate_width, last.link_layer) == (40.0, "4X QDR", "Ethernet")
    assert last.default_gid == "unknown"


def test_a_down_port() -> None:
    text = (
        "Infiniband device 'mlx5_3' port 1 status:\n"
        "\tdefault gid:\t fe80::1\n\tbase lid:\t 0xffff\n\tsm lid:\t\t 0x0\n"
        "\tstate:\t\t 1: DOWN\n\tphys state:\t 3: Disabled\n\trate:\t\t 10 Gb/sec (4X SDR)\n"
        "\tlink_layer:\t InfiniBand\n"
    )
    (port,) = parse_ibstatus(text)
    assert (port.state, port.state_code, port.physical_state) == ("DOWN", 1, "Disabled")
    assert not port.active


def test_garbage_names_its_line() -> None:
    with pytest.raises(ParseError, match="Infiniband device") as raised:
        parse_ibstatus("state: ACTIVE\n")
    assert raised.value.lineno == 1
    text = "Infiniband device 'mlx5_0' port 1 status:\n\tstate:\t 4: ACTIVE\n\tbogus line\n"
    with pytest.raises(ParseError, match="key: value") as raised:
        parse_ibstatus(text)
    assert raised.value.lineno == 3

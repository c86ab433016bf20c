"""ibstat: real captures of A100 and H100 nodes (IB and RoCE), all-active, ports down, ibpanic."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.infiniband import parse_ibstat

from .conftest import real


def test_ibpanic_keeps_the_cas_read_and_fails() -> None:
    report = parse_ibstat(real("infiniband/ibstat/a100-azure-ndv4_mt4124_ibpanic-exit255_gpud.txt"))
    assert report.failed
    assert [ca.name for ca in report.cas] == [f"mlx5_{i}" for i in range(8)]
    (error,) = report.errors
    assert "stat of IB device 'mlx5_8' failed" in error
    ca = report.ca("mlx5_0")
    assert (ca.ca_type, ca.firmware_version, ca.node_guid) == (
        "MT4124",
        "20.41.1000",
        "0x00155dfffe3411eb",
    )
    assert ca.system_image_guid == "0xb83fd203006e2704"
    (port,) = ca.ports
    assert (port.state, port.physical_state, port.rate, port.base_lid, port.sm_lid) == (
        "Active",
        "LinkUp",
        200.0,
        13247,
        1,
    )
    assert port.port_guid == "0x00155dfffd3411eb"
    assert port.link_layer == "InfiniBand"


def test_h100_ndr_all_active() -> None:
    report = parse_ibstat(real("infiniband/ibstat/h100-node_cx7-400g-ib_all-active_2_gpud.txt"))
    assert not report.failed
    assert len(report.cas) == 9
    assert report.down_ports() == ()
    compute = [ca for ca in report.cas if ca.ca_type == "MT4129"]  # ConnectX-7
    assert len(compute) == 8
    assert {(p.rate, p.link_layer) for ca in compute for p in ca.ports} == {(400.0, "InfiniBand")}
    bond = report.ca("mlx5_bond_0")  # the BlueField-3 front-end port
    assert (bond.ca_type, bond.ports[0].rate, bond.ports[0].link_layer) == (
        "MT41692",
        200.0,
        "Ethernet",
    )
    assert report.ca("mlx5_1").ports[0].base_lid == 534


def test_h100_roce_all_active_is_ethernet_link_layer() -> None:
    report = parse_ibstat(real("infiniband/ibstat/h100-node_cx7-400g-eth_all-active_0_gpud.txt"))
    assert len(report.cas) == 12
    assert report.down_ports() == ()
    assert {port.link_layer for ca in report.cas for port in ca.ports} == {"Ethernet"}


def test_a100_mixed_link_layers_all_active() -> None:
    report = parse_ibstat(real("infiniband/ibstat/a100-node_mt4126_all-active_gpud.txt"))
    assert len(report.cas) == 9
    assert report.down_ports() == ()
    assert report.ca("mlx5_0").ports[0].link_layer == "Ethernet"
    assert report.ca("mlx5_1").ports[0].sm_lid == 83


@pytest.mark.parametrize(
    ("name", "down"),
    [
        (
            "infiniband/ibstat/h100-node_cx7_some-ports-down_0_gpud.txt",
            ["mlx5_2", "mlx5_7", "mlx5_8"],
        ),
        ("infiniband/ibstat/h100-node_cx7_some-ports-down_1_gpud.txt", ["mlx5_11", "mlx5_5"]),
    ],
)
def test_ports_down_are_named(name: str, down: list[str]) -> None:
    report = parse_ibstat(real(name))
    assert report.down_ports() == tuple((ca, 1) for ca in down)
    for ca, _ in report.down_ports():
        port = report.ca(ca).ports[0]
        assert (port.state, port.physical_state) == ("Down", "Disabled")
        assert not port.active


def test_a_line_that_is_not_a_field_names_its_line() -> None:
    text = "CA 'mlx5_0'\n\tCA type: MT4129\n\tPort 1:\n\t\tgarbage without colon\n"
    with pytest.raises(ParseError, match="expected 'Key: value'") as raised:
        parse_ibstat(text)
    assert raised.value.lineno == 4


def test_text_before_any_ca_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match='expected "CA') as raised:
        parse_ibstat("\n\tState: Active\n")
    assert raised.value.lineno == 2
    with pytest.raises(ParseError, match="empty"):
        parse_ibstat("")

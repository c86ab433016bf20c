"""perfquery: real EDR fabric captures (-x extended counters and -E receive-error details)."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.infiniband import ERROR_COUNTERS, parse_perfquery

from .conftest import real


def test_degraded_port_counters() -> None:
    (block,) = parse_perfquery(
        real("infiniband/perfquery/edr-fabric_0x506b4b03005c2740_perfquery-x.txt")
    )
    assert (block.kind, block.lid, block.port, block.cap_mask) == (
        "Port extended",
        2052,
        1,
        "0x5300",
    )
    assert block.counters["PortXmitData"] == 178791657177235
    assert block.counters["CounterSelect2"] == 0
    assert block.counters["SymbolErrorCounter"] == 0
    assert block.errors() == {
        "LinkDownedCounter": 1,
        "PortRcvSwitchRelayErrors": 7,
        "PortXmitDiscards": 20046,
    }
    assert block.counters["PortXmitWait"] == 41864608  # congestion, not an error
    assert "PortXmitWait" not in ERROR_COUNTERS


@pytest.mark.parametrize("guid", ["0x7cfe9003003b4b96", "0x7cfe9003003b4bde"])
def test_healthy_ports_have_no_errors(guid: str) -> None:
    (block,) = parse_perfquery(real(f"infiniband/perfquery/edr-fabric_{guid}_perfquery-x.txt"))
    assert block.errors() == {}
    assert block.counters["PortXmitWait"] == 0
    assert len(block.counters) == 25


def test_two_ports_with_congestion_only() -> None:
    port1, port2 = parse_perfquery(
        real("infiniband/perfquery/edr-fabric_0x7cfe9003009ce5b0_perfquery-x.txt")
    )
    assert (port1.lid, port1.port, port2.port) == (1719, 1, 2)
    assert (port1.counters["PortXmitWait"], port2.counters["PortXmitWait"]) == (22730501, 36510964)
    assert port1.errors() == port2.errors() == {}


@pytest.mark.parametrize(
    ("guid", "lid"),
    [
        ("0x506b4b03005c2740", 2052),
        ("0x7cfe9003003b4b96", 133),
        ("0x7cfe9003003b4bde", 134),
        ("0x7cfe9003009ce5b0", 1719),
    ],
)
def test_receive_error_details(guid: str, lid: int) -> None:
    (block,) = parse_perfquery(
        real(f"infiniband/perfquery/edr-fabric_{guid}-1_perfquery-rcv-error.txt")
    )
    assert (block.kind, block.lid, block.cap_mask) == ("PortRcvErrorDetails", lid, None)
    assert block.counters["PortLocalPhysicalErrors"] == 0
    assert block.errors() == {}
    assert len(block.counters) == 8


def test_port_all_and_error_counters_form() -> None:
    text = (
        "# Port counters: Lid 1 port ALL (CapMask: 0x1600)\nSymbolErrorCounter:..............130\n"
    )
    (block,) = parse_perfquery(text)
    assert block.port is None
    assert block.errors() == {"SymbolErrorCounter": 130}


def test_bad_input_names_its_line() -> None:
    with pytest.raises(ParseError, match="counters: Lid") as raised:
        parse_perfquery("SymbolErrorCounter:....0\n")
    assert raised.value.lineno == 1
    with pytest.raises(ParseError, match="not a number") as raised:
        parse_perfquery(
            "# Port counters: Lid 1 port 1\nPortSelect:....1\nSymbolErrorCounter:....many\n"
        )
    assert raised.value.lineno == 3

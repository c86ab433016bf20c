"""NVRM Xid events: real dmesg captures (plain, -T, --time-format=iso, --decode) and a one-liner."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from bringup.parsers import ParseError
from bringup.parsers.xid import parse_xid_log

from .conftest import real


def test_single_line_row_remapper_xid_63() -> None:
    (event,) = parse_xid_log(real("xid/a100_xid63-row-remapper_single-line_ml-engineering.log"))
    assert (event.xid, event.pci_address, event.pid, event.process) == (
        63,
        "0000:10:1c",
        1896,
        None,
    )
    assert event.message == "Row Remapper: New row marked for remapping, reset gpu to activate."
    assert (event.timestamp, event.uptime_seconds) == (None, None)


def test_decode_iso_dmesg_xid_13_and_43() -> None:
    events = parse_xid_log(real("xid/gpu-node_xid13-43_full-dmesg-decode-iso_gpud.log"))
    assert Counter(event.xid for event in events) == {13: 629, 43: 7}
    assert {event.pci_address for event in events} == {"0000:38:00"}
    first = events[0]
    assert first.timestamp == datetime(2025, 1, 21, 2, 21, 33, 498559, tzinfo=UTC)
    assert (
        first.message == "Graphics SM Warp Exception on (GPC 8, TPC 5, SM 0): Out Of Range Address"
    )
    assert first.pid is None


def test_iso_dmesg_dbe_row_remap_and_contained_error() -> None:
    events = parse_xid_log(real("xid/gpu-node_xid48-63-94-dbe-row-remap_dmesg-iso_gpud.log"))
    assert [event.xid for event in events][:3] == [48, 63, 94]
    assert Counter(event.xid for event in events) == {48: 1, 63: 1, 94: 9}
    dbe = events[0]
    assert dbe.lineno == 11
    assert dbe.message.startswith("An uncorrectable double bit error (DBE)")
    assert (events[3].pid, events[3].process) == (1248209, "python3.10")


def test_dmesg_t_gsp_timeout_xid_119() -> None:
    events = parse_xid_log(real("xid/h100_dell-xe9680_xid119-gsp-timeout_dmesg_gpud.log"))
    assert [event.xid for event in events] == [119] * 5
    first = events[0]
    assert first.timestamp == datetime(2025, 2, 23, 16, 24, 18)
    assert (first.pid, first.process, first.pci_address) == (2024380, "nvidia-smi", "0000:9b:00")
    assert first.message.startswith("Timeout after 6s of waiting for RPC response from GPU4 GSP!")
    assert events[-1].process == "gpud"


def test_uptime_and_syslog_prefixes_and_the_old_form_without_pid() -> None:
    text = (
        "[ 1234.567890] NVRM: Xid (PCI:0000:18:00): 79, GPU has fallen off the bus.\n"
        "Feb 23 16:24:18 node-7 kernel: [ 99.5] "
        "NVRM: Xid (PCI:0000:3b:00): 74, pid=7, name=x, NVLink: fatal\n"
        "2025-02-23T16:24:18.123456789+0000 node-7 kernel: "
        "NVRM: Xid (PCI:0000:3b:00): 92, pid=8, High SBE\n"
    )
    fallen, nvlink, sbe = parse_xid_log(text)
    assert (fallen.xid, fallen.uptime_seconds, fallen.message) == (
        79,
        1234.56789,
        "GPU has fallen off the bus.",
    )
    assert (nvlink.host, nvlink.timestamp_text, nvlink.uptime_seconds, nvlink.process) == (
        "node-7",
        "Feb 23 16:24:18",
        99.5,
        "x",
    )
    assert nvlink.timestamp is None  # syslog dates carry no year
    assert sbe.timestamp == datetime(2025, 2, 23, 16, 24, 18, 123456, tzinfo=UTC)


def test_a_log_without_xids_has_no_events() -> None:
    assert parse_xid_log("[    0.000000] Linux version 5.15.0\n") == ()


def test_a_malformed_xid_line_names_its_line() -> None:
    with pytest.raises(ParseError, match="NVRM: Xid") as raised:
        parse_xid_log("ok\n[ 1.0] NVRM: Xid (PCI:0000:18:00) 79 no comma\n")
    assert (raised.value.tool, raised.value.lineno) == ("dmesg Xid", 2)


def test_text_that_is_not_a_kernel_log_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a kernel log") as raised:
        parse_xid_log("\nHTTP/1.1 404 Not Found\n")
    assert raised.value.lineno == 2


def test_empty_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="empty input"):
        parse_xid_log("")

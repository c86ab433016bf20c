"""Fabric Manager logs: two real HGX 8-GPU logs with NVSwitch non-fatal error 12028."""

from __future__ import annotations

from datetime import datetime

import pytest

from bringup.parsers import ParseError
from bringup.parsers.fabricmanager import parse_fabricmanager_log

from .conftest import real


def test_february_log_has_one_nonfatal_12028() -> None:
    log = parse_fabricmanager_log(real("fabricmanager/hgx-8gpu_fm-log_2025-02_gpud.log"))
    assert len(log.log.entries) == 54
    (error,) = log.nvswitch_errors
    assert (error.fatal, error.code, error.fid, error.physical_id, error.port) == (
        False,
        12028,
        0,
        3,
        61,
    )
    assert error.pci_bus_id == "00000000:86:00.0"
    assert error.entry.timestamp == datetime(2025, 2, 27, 15, 10, 2)
    assert error.entry.thread_id == 12727
    assert log.errors == (error.entry,)
    assert log.fatal_nvswitch_errors == ()


def test_continuation_lines_belong_to_their_entry() -> None:
    log = parse_fabricmanager_log(real("fabricmanager/hgx-8gpu_fm-log_2025-02_gpud.log"))
    first = log.log.entries[0]
    assert first.severity == "INFO"
    assert first.message.startswith("Received an inband message:")
    assert first.continuation == (
        "Message payload details:Team release request: Team Handle:99c9f23d49236386 Flags:0",
    )


def test_december_log_restarts_switches_and_eighteen_errors() -> None:
    log = parse_fabricmanager_log(
        real("fabricmanager/hgx-8gpu_fm-log_nvswitch-nonfatal-12028_gpud.log")
    )
    assert log.version == "535.161.08"
    assert log.topology == "DGX/HGX H100"
    assert log.log.banners == (
        "Fabric Manager Log initializing at: 12/19/2024 22:08:53.808",
        "Fabric Manager Log initializing at: 12/20/2024 00:36:34.217",
    )
    assert [s.pci_bus_id for s in log.nvswitches] == [
        f"00000000:{b}:00.0" for b in (83, 84, 85, 86)
    ]
    assert log.nvswitches[1].enabled_link_mask == "ffffffff000000ff"
    assert log.nvswitches[3].uuid == "SWX-35D5221F-8694-1C35-EE0B-B8C8E9224226"
    assert len(log.nvswitch_errors) == 18
    assert {(e.physical_id, e.port) for e in log.nvswitch_errors} == {
        (0, 34),
        (1, 35),
        (1, 42),
        (2, 0),
        (2, 1),
        (2, 19),
        (2, 33),
        (3, 33),
        (3, 36),
    }
    assert all(not e.fatal and e.code == 12028 for e in log.nvswitch_errors)


def test_fatal_error_is_recognised() -> None:
    text = (
        "[Mar 01 2025 10:00:00] [ERROR] [tid 77] detected NVSwitch fatal error 24007 on fid 0 "
        "on NVSwitch pci bus id 00000000:05:00.0 physical id 2 port 17\n"
    )
    (error,) = parse_fabricmanager_log(text).fatal_nvswitch_errors
    assert (error.code, error.port) == (24007, 17)


def test_text_before_any_entry_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="SEVERITY") as raised:
        parse_fabricmanager_log(
            "\nsomething else entirely\n[Feb 25 2025 13:59:45] [INFO] [tid 1] ok\n"
        )
    assert (raised.value.tool, raised.value.lineno) == ("fabricmanager log", 2)
    with pytest.raises(ParseError, match="empty"):
        parse_fabricmanager_log("")

"""NVRM Xid events: real dmesg captures (plain, -T, --time-format=iso, --decode) and a one-liner,
and GPUs fallen off the bus with no Xid line (tests/fixtures/field/xid)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from bringup.parsers import ParseError
from bringup.parsers.xid import parse_xid_log

from .conftest import field, real


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
    # the driver named the GPU before its first Xid; every event of that address carries it
    assert {event.gpu_uuid for event in events} == {"GPU-509665ad-b600-ac93-3616-d754b23d636d"}


@pytest.mark.parametrize(
    "name",
    [
        "xid/a100_xid63-row-remapper_single-line_ml-engineering.log",
        "xid/gpu-node_xid13-43_full-dmesg-decode-iso_gpud.log",
        "xid/gpu-node_xid48-63-94-dbe-row-remap_dmesg-iso_gpud.log",
        "xid/h100_dell-xe9680_xid119-gsp-timeout_dmesg_gpud.log",
    ],
)
def test_the_real_captures_hold_only_xid_lines(name: str) -> None:
    assert {event.kind for event in parse_xid_log(real(name))} == {"xid"}


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


def test_field_gpu_fallen_off_the_bus_without_an_xid_line() -> None:
    (lost,) = parse_xid_log(field("xid/dmesg_h100x8_fallen-off-bus_no-xid-line.log"))
    assert (lost.kind, lost.xid, lost.pci_address) == ("fallen-off-bus", 79, "0000:3b:00")
    assert (lost.lineno, lost.uptime_seconds, lost.timestamp_text) == (
        8,
        2011.334935,
        "[ 2011.334935]",
    )
    assert lost.message == "GPU has fallen off the bus."
    assert lost.gpu_uuid == "GPU-5f3c9a4e-8d21-4b7e-9a0c-2e61d7b4c815"
    assert (lost.pid, lost.process) == (None, None)


def test_field_gpu_fallen_off_the_bus_at_driver_load() -> None:
    (lost,) = parse_xid_log(field("xid/dmesg_h100x8_fallen-off-bus_at-driver-load.log"))
    assert (lost.kind, lost.xid, lost.pci_address) == ("fallen-off-bus", 79, "0000:ab:00")
    assert (lost.lineno, lost.uptime_seconds) == (11, 6.003311)  # the record's first line
    assert lost.message == (
        "The NVIDIA GPU 0000:ab:00.0 (PCI ID: 10de:2330) installed in this system has "
        "fallen off the bus and is not responding to commands."
    )
    assert lost.gpu_uuid is None


def test_an_xid_79_and_the_drivers_own_line_are_two_events_of_one_gpu() -> None:
    text = (
        "[ 77.100000] NVRM: GPU at PCI:0000:18:00: GPU-0a1b2c3d-0000-1111-2222-333344445555\n"
        "[ 77.100001] NVRM: Xid (PCI:0000:18:00): 79, pid='<unknown>', name=<unknown>, "
        "GPU has fallen off the bus.\n"
        "[ 77.100002] NVRM: GPU 0000:18:00.0: GPU has fallen off the bus.\n"
    )
    xid, lost = parse_xid_log(text)
    assert [(e.kind, e.xid, e.pci_address) for e in (xid, lost)] == [
        ("xid", 79, "0000:18:00"),
        ("fallen-off-bus", 79, "0000:18:00"),
    ]
    assert xid.gpu_uuid == lost.gpu_uuid == "GPU-0a1b2c3d-0000-1111-2222-333344445555"


def test_a_sec_fault_loses_the_gpu_without_an_xid_79() -> None:
    # Hopper's SEC_FAULT handler logs Xid 110, then takes the GPU down without an Xid 79
    # (gpuHandleSecFault_GH100 in NVIDIA's open-gpu-kernel-modules, kern_gpu_gh100.c)
    text = (
        "[ 5120.000101] NVRM: GPU at PCI:0000:9b:00: GPU-0a1b2c3d-0000-1111-2222-333344445555\n"
        "[ 5120.000102] NVRM: GPU Board Serial Number: 1650124014249\n"
        "[ 5120.000103] NVRM: Xid (PCI:0000:9b:00): 110, pid='<unknown>', name=<unknown>, "
        "SEC_FAULT: _FAULT_PRI\n"
        "[ 5120.000180] NVRM: GPU 0000:9b:00.0: GPU has fallen off the bus.\n"
        "[ 5120.000181] NVRM: GPU 0000:9b:00.0: GPU serial number is 1650124014249.\n"
    )
    sec_fault, lost = parse_xid_log(text)
    assert [(e.kind, e.xid, e.lineno) for e in (sec_fault, lost)] == [
        ("xid", 110, 3),
        ("fallen-off-bus", 79, 4),
    ]


def test_fallen_off_bus_lines_carry_syslog_and_iso_timestamps() -> None:
    text = (
        "Feb 14 05:03:41 gpu-1 kernel: NVRM: GPU 0000:9b:00.0: GPU has fallen off the bus.\n"
        "2025-02-14T05:03:41,512345+00:00 NVRM: The NVIDIA GPU 0000:ab:00.0\n"
        f"{' ' * 33}NVRM: (PCI ID: 10de:2330) installed in this system has\n"
        f"{' ' * 33}NVRM: fallen off the bus and is not responding to commands.\n"
    )
    syslog, iso = parse_xid_log(text)
    assert (syslog.host, syslog.timestamp_text, syslog.pci_address) == (
        "gpu-1",
        "Feb 14 05:03:41",
        "0000:9b:00",
    )
    assert (iso.lineno, iso.pci_address) == (2, "0000:ab:00")
    assert iso.timestamp == datetime(2025, 2, 14, 5, 3, 41, 512345, tzinfo=UTC)


def test_every_pci_address_is_domain_bus_device() -> None:
    text = (
        "[ 1.0] NVRM: Xid (PCI:0000:18:00.0): 48, pid=7, name=x, DBE\n"
        "[ 2.0] NVRM: GPU 0000:18:00.0: GPU has fallen off the bus.\n"
    )
    assert [event.pci_address for event in parse_xid_log(text)] == ["0000:18:00", "0000:18:00"]


def test_a_load_time_record_about_something_else_is_no_event() -> None:
    text = (
        "[ 6.0] NVRM: The NVIDIA GPU 0000:ab:00.0 (PCI ID: 10de:2330)\n"
        "        NVRM: installed in this system is not supported by the\n"
        "        NVRM: NVIDIA 535.161.08 driver release.\n"
        "[ 6.1] NVRM: loading NVIDIA UNIX Open Kernel Module for x86_64  535.161.08\n"
    )
    assert parse_xid_log(text) == ()


def test_a_fallen_off_bus_line_without_its_gpu_names_its_line() -> None:
    text = (
        "[ 6.0] nvidia: loading out-of-tree module taints kernel.\n"
        "        NVRM: fallen off the bus and is not responding to commands.\n"
    )
    with pytest.raises(ParseError, match="fallen off the bus") as raised:
        parse_xid_log(text)
    assert (raised.value.tool, raised.value.lineno) == ("dmesg Xid", 2)


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

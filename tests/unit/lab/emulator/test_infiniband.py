"""ibstat, ibstatus, ibv_devinfo, perfquery: parsed back into the profile's NICs; port faults."""

from __future__ import annotations

from bringup.lab.emulator import infiniband
from bringup.parsers.infiniband import (
    parse_ibstat,
    parse_ibstatus,
    parse_ibv_devinfo,
    parse_perfquery,
)

from .conftest import ENV, Profile, profile_of


def test_ibstat_round_trip(any_profile: Profile) -> None:
    run = infiniband.ibstat([], any_profile, ENV)
    assert run.code == 0
    report = parse_ibstat(run.stdout)
    assert [ca.name for ca in report.cas] == sorted({n["device"] for n in any_profile["nics"]})
    for nic in any_profile["nics"]:
        ca = report.ca(nic["device"])
        port = ca.ports[0]
        assert (ca.ca_type, ca.firmware_version) == (nic["ca_type"], nic["firmware"])
        assert (ca.node_guid, port.port_guid) == (nic["node_guid"], nic["port_guid"])
        assert (port.state, port.physical_state) == ("Active", "LinkUp")
        assert port.rate == nic["rate_gbps"]
        assert port.link_layer == nic["link_layer"]
        if nic["link_layer"] == "InfiniBand":
            assert (port.base_lid, port.sm_lid) == (nic["lid"], nic["sm_lid"])
    assert report.down_ports() == ()


def test_ibstat_one_ca_and_unknown_ca() -> None:
    profile = profile_of("hgx-h100")
    report = parse_ibstat(infiniband.ibstat(["mlx5_3"], profile, ENV).stdout)
    assert [ca.name for ca in report.cas] == ["mlx5_3"]
    run = infiniband.ibstat(["mlx5_99"], profile, ENV)
    assert run.code == 255
    assert "stat of IB device 'mlx5_99' failed: No such file or directory" in run.stderr


def test_ibstatus_round_trip(any_profile: Profile) -> None:
    ports = parse_ibstatus(infiniband.ibstatus([], any_profile, ENV).stdout)
    by_device = {p.device: p for p in ports}
    assert sorted(by_device) == sorted(n["device"] for n in any_profile["nics"])
    for nic in any_profile["nics"]:
        port = by_device[nic["device"]]
        assert port.active
        assert port.rate_gbps == nic["rate_gbps"]
        assert port.link_layer == nic["link_layer"]
        if nic["link_layer"] == "InfiniBand":
            assert port.base_lid == nic["lid"]


def test_ibv_devinfo_round_trip(any_profile: Profile) -> None:
    devices = parse_ibv_devinfo(infiniband.ibv_devinfo(["-v"], any_profile, ENV).stdout)
    assert sorted(d.hca_id for d in devices) == sorted(n["device"] for n in any_profile["nics"])
    for device in devices:
        nic = next(n for n in any_profile["nics"] if n["device"] == device.hca_id)
        assert device.fw_ver == nic["firmware"]
        assert device.vendor_part_id == int(nic["ca_type"].removeprefix("MT"))
        assert device.node_guid == ":".join(
            f"{int(nic['node_guid'], 16):016x}"[i : i + 4] for i in range(0, 16, 4)
        )
        assert device.ports[0].active
        assert device.ports[0].link_layer == nic["link_layer"]


def test_ibv_devinfo_one_device_and_unknown() -> None:
    profile = profile_of("gb200-nvl72")
    devices = parse_ibv_devinfo(infiniband.ibv_devinfo(["-d", "mlx5_4"], profile, ENV).stdout)
    assert [d.hca_id for d in devices] == ["mlx5_4"]
    run = infiniband.ibv_devinfo(["-d", "mlx5_42"], profile, ENV)
    assert (run.code, run.stderr) == (255, "IB device 'mlx5_42' wasn't found\n")


def test_perfquery_reads_the_profile_counters() -> None:
    profile = profile_of("hgx-h100")
    nic = next(n for n in profile["nics"] if n["device"] == "mlx5_3")
    nic["counters"].update(symbol_errors=130, link_downed=2, port_rcv_errors=5)
    for extended in ([], ["-x"]):
        run = infiniband.perfquery([*extended, str(nic["lid"]), "1"], profile, ENV)
        block = parse_perfquery(run.stdout)[0]
        assert (block.lid, block.port) == (nic["lid"], 1)
        assert block.counters["SymbolErrorCounter"] == 130
        assert block.counters["LinkDownedCounter"] == 2
        assert block.errors()["PortRcvErrors"] == 5
    by_ca = parse_perfquery(infiniband.perfquery(["-C", "mlx5_3", "-P", "1"], profile, ENV).stdout)
    assert by_ca[0].lid == nic["lid"]
    healthy = parse_perfquery(infiniband.perfquery(["-x"], profile, ENV).stdout)[0]
    assert healthy.errors() == {}


def test_perfquery_cannot_query_an_ethernet_port() -> None:
    run = infiniband.perfquery(["-C", "mlx5_1"], profile_of("hgx-h100"), ENV)
    assert run.code == 255
    assert "can't open UMAD port" in run.stderr


def test_port_down_and_cable_cut() -> None:
    profile = profile_of("hgx-h100")
    nics = {n["device"]: n for n in profile["nics"]}
    nics["mlx5_4"].update(state="Down", physical_state="Disabled")
    nics["mlx5_5"].update(state="Down", physical_state="Polling")
    report = parse_ibstat(infiniband.ibstat([], profile, ENV).stdout)
    assert report.down_ports() == (("mlx5_4", 1), ("mlx5_5", 1))
    assert report.ca("mlx5_5").ports[0].physical_state == "Polling"
    assert report.ca("mlx5_4").ports[0].base_lid == 0
    status = {p.device: p for p in parse_ibstatus(infiniband.ibstatus([], profile, ENV).stdout)}
    assert not status["mlx5_4"].active
    assert status["mlx5_4"].state == "DOWN"
    assert status["mlx5_0"].active
    devices = parse_ibv_devinfo(infiniband.ibv_devinfo(["-d", "mlx5_5"], profile, ENV).stdout)
    assert devices[0].ports[0].state == "PORT_DOWN"


def test_port_at_a_lower_rate() -> None:
    profile = profile_of("hgx-h100")
    profile["nics"][0]["rate_gbps"] = 200
    port = parse_ibstat(infiniband.ibstat(["mlx5_0"], profile, ENV).stdout).cas[0].ports[0]
    assert port.active
    assert port.rate == 200
    status = parse_ibstatus(infiniband.ibstatus(["mlx5_0"], profile, ENV).stdout)[0]
    assert (status.rate_gbps, status.rate_width) == (200, "4X HDR")

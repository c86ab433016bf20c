"""nvidia-smi: every view, on every GPU SKU, parsed back into the profile's values; and faults."""

from __future__ import annotations

from typing import Any

import pytest

from bringup.lab.emulator import nvidia_smi
from bringup.parsers.nvidia_smi import (
    parse_nvlink_status,
    parse_query,
    parse_query_csv,
    parse_query_xml,
    parse_table,
    parse_topo_matrix,
)

from .conftest import ENV, Profile, profile_of

QUERY_FIELDS = (
    "index,name,serial,uuid,pci.bus_id,driver_version,persistence_mode,memory.total,memory.used,"
    "temperature.gpu,power.draw,power.limit,clocks.sm,clocks.max.sm,pcie.link.gen.current,"
    "pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max,"
    "ecc.errors.corrected.volatile.total,ecc.errors.uncorrected.volatile.total,"
    "ecc.errors.uncorrected.aggregate.total,retired_pages.pending,remapped_rows.pending,"
    "remapped_rows.failure,clocks_event_reasons.active"
)


def smi(profile: Profile, *args: str) -> nvidia_smi.Run:
    return nvidia_smi.main(list(args), profile, ENV)


def test_table_round_trip(gpu_profile: Profile) -> None:
    run = smi(gpu_profile)
    assert run.code == 0
    table = parse_table(run.stdout)
    assert table.driver_version == gpu_profile["driver"]["version"]
    assert table.cuda_version == gpu_profile["driver"]["cuda"]
    assert [g.bus_id for g in table.gpus] == [g["pci_bus_id"] for g in gpu_profile["gpus"]]
    assert [g.memory_total_mib for g in table.gpus] == [
        g["memory_total_mib"] for g in gpu_profile["gpus"]
    ]
    assert {g.volatile_uncorrected_ecc for g in table.gpus} == {"0"}
    assert table.processes == ()


def test_query_report_round_trip(gpu_profile: Profile) -> None:
    run = smi(gpu_profile, "-q")
    assert run.code == 0
    report = parse_query(run.stdout)
    assert report.driver_version == gpu_profile["driver"]["version"]
    assert report.attached_gpus == len(gpu_profile["gpus"])
    for parsed, gpu in zip(report.gpus, gpu_profile["gpus"], strict=True):
        _assert_gpu(parsed, gpu)


def test_xml_report_round_trip(gpu_profile: Profile) -> None:
    run = smi(gpu_profile, "-q", "-x")
    assert run.code == 0
    report = parse_query_xml(run.stdout)
    assert report.driver_version == gpu_profile["driver"]["version"]
    for parsed, gpu in zip(report.gpus, gpu_profile["gpus"], strict=True):
        _assert_gpu(parsed, gpu)


def _assert_gpu(parsed: Any, gpu: dict[str, Any]) -> None:
    assert (parsed.bus_id, parsed.name) == (gpu["pci_bus_id"], gpu["name"])
    assert (parsed.serial, parsed.uuid) == (gpu["serial"], gpu["uuid"])
    assert parsed.persistence_mode is gpu["persistence_mode"]
    assert parsed.pcie.gen_current == gpu["pcie"]["gen"]
    assert parsed.pcie.width_max == gpu["pcie"]["max_width"]
    assert parsed.fb_total_mib == gpu["memory_total_mib"]
    assert parsed.ecc.volatile.dram_uncorrectable == gpu["ecc"]["volatile_uncorrected"]
    assert parsed.ecc.aggregate.dram_correctable == gpu["ecc"]["aggregate_corrected"]
    assert parsed.ecc.volatile.sram_correctable == gpu["ecc"]["sram_corrected"]
    assert parsed.remapped_rows.pending is gpu["row_remap"]["pending"]
    assert parsed.remapped_rows.failure is gpu["row_remap"]["failure"]
    assert parsed.remapped_rows.uncorrectable == gpu["row_remap"]["uncorrectable"]
    assert parsed.temperatures.gpu == gpu["temperature_c"]
    assert parsed.power.limit == gpu["power_limit_w"]
    assert parsed.clocks.sm == gpu["clocks"]["sm_mhz"]
    assert parsed.fabric is not None


def test_csv_query_round_trip(gpu_profile: Profile) -> None:
    run = smi(gpu_profile, f"--query-gpu={QUERY_FIELDS}", "--format=csv")
    assert run.code == 0
    csv = parse_query_csv(run.stdout)
    assert csv.units["memory.total"] == "MiB"
    for row, gpu in zip(csv.rows, gpu_profile["gpus"], strict=True):
        assert row["serial"] == gpu["serial"]
        assert row["uuid"] == gpu["uuid"]
        assert row["pci.bus_id"] == gpu["pci_bus_id"]
        assert row["memory.total"] == f"{gpu['memory_total_mib']} MiB"
        assert row["clocks.current.sm"] == f"{gpu['clocks']['sm_mhz']} MHz"  # canonical name
        assert row["ecc.errors.uncorrected.volatile.total"] == "0"
        assert row["remapped_rows.pending"] == "No"
        assert row["retired_pages.pending"] == "[N/A]"


def test_csv_noheader_nounits() -> None:
    profile = profile_of("hgx-h100")
    run = smi(profile, "--query-gpu=index,memory.total,power.draw", "--format=csv,noheader,nounits")
    assert run.stdout.splitlines()[0] == "0, 81559, 72.00"


def test_unknown_csv_field_is_refused_as_nvidia_smi_does() -> None:
    run = smi(profile_of("hgx-h100"), "--query-gpu=index,bogus.field", "--format=csv")
    assert (run.code, run.stdout) == (2, 'Field "bogus.field" is not a valid field to query.\n\n')


def test_nvlink_status_round_trip(gpu_profile: Profile) -> None:
    gpus = parse_nvlink_status(smi(gpu_profile, "nvlink", "-s").stdout)
    assert [g.uuid for g in gpus] == [g["uuid"] for g in gpu_profile["gpus"]]
    for parsed, gpu in zip(gpus, gpu_profile["gpus"], strict=True):
        assert len(parsed.links) == len(gpu["nvlinks"])
        assert parsed.inactive_links == ()
        speeds = {link.speed_gbps for link in parsed.links}
        assert speeds == {k["speed_mbps"] / 1000 for k in gpu["nvlinks"]}


def test_topology_round_trip(gpu_profile: Profile) -> None:
    matrix = parse_topo_matrix(smi(gpu_profile, "topo", "-m").stdout)
    count = len(gpu_profile["gpus"])
    links = len(gpu_profile["gpus"][0]["nvlinks"])
    assert matrix.gpus == tuple(f"GPU{i}" for i in range(count))
    assert matrix.link("GPU0", f"GPU{count - 1}") == f"NV{links}"
    devices = sorted({n["device"] for n in gpu_profile["nics"]}, key=lambda d: int(d[5:]))
    assert list(matrix.nics.values()) == devices
    rail1 = next(n["device"] for n in gpu_profile["nics"] if n["role"] == "compute")
    nic = next(name for name, dev in matrix.nics.items() if dev == rail1)
    assert matrix.link("GPU0", nic) == "PIX"


def test_list_gpus() -> None:
    profile = profile_of("hgx-h100")
    first = smi(profile, "-L").stdout.splitlines()[0]
    assert first == f"GPU 0: NVIDIA H100 80GB HBM3 (UUID: {profile['gpus'][0]['uuid']})"


def test_select_one_gpu_by_index_uuid_or_bus() -> None:
    profile = profile_of("hgx-h100")
    gpu = profile["gpus"][3]
    for selector in ("3", gpu["uuid"], gpu["pci_bus_id"]):
        report = parse_query(smi(profile, "-q", "-i", selector).stdout)
        assert [g.serial for g in report.gpus] == [gpu["serial"]]
    assert smi(profile, "-q", "-i", "99").code == 6


def test_gpu_off_the_bus_prints_nvml_error_and_fails() -> None:
    profile = profile_of("hgx-h100")
    profile["gpus"][2]["present"] = False
    line = "Unable to determine the device handle for GPU0000:3A:00.0: Unknown Error"
    for args in ((), ("-L",), ("-q",), ("nvlink", "-s")):
        run = smi(profile, *args)
        assert run.code == 15, args
        assert line in run.stdout.splitlines(), args
    table = parse_table(smi(profile).stdout.split("\n", 1)[1])
    assert len(table.gpus) == 7
    assert profile["gpus"][2]["pci_bus_id"] not in {g.bus_id for g in table.gpus}


def test_uncorrectable_ecc_reported_everywhere() -> None:
    profile = profile_of("hgx-h100")
    ecc = profile["gpus"][1]["ecc"]
    ecc["volatile_uncorrected"] = ecc["aggregate_uncorrected"] = 3
    table = parse_table(smi(profile).stdout)
    assert table.gpus[1].volatile_uncorrected_ecc == "3"
    report = parse_query(smi(profile, "-q").stdout)
    assert report.gpus[1].ecc.volatile.uncorrectable_total == 3
    csv = parse_query_csv(smi(profile, f"--query-gpu={QUERY_FIELDS}", "--format=csv").stdout)
    assert csv.rows[1]["ecc.errors.uncorrected.volatile.total"] == "3"
    assert csv.rows[0]["ecc.errors.uncorrected.volatile.total"] == "0"


@pytest.mark.parametrize("view", ["-q", "-x"])
def test_row_remap_pending_and_failure(view: str) -> None:
    profile = profile_of("hgx-b200")
    profile["gpus"][4]["row_remap"].update(pending=True, uncorrectable=1)
    profile["gpus"][5]["row_remap"]["failure"] = True
    args = ("-q",) if view == "-q" else ("-q", "-x")
    parse = parse_query if view == "-q" else parse_query_xml
    gpus = parse(smi(profile, *args).stdout).gpus
    assert [g.remapped_rows.pending for g in gpus] == [i == 4 for i in range(8)]
    assert [g.remapped_rows.failure for g in gpus] == [i == 5 for i in range(8)]
    assert gpus[4].remapped_rows.uncorrectable == 1


def test_inactive_nvlink() -> None:
    profile = profile_of("gb200-nvl72")
    profile["gpus"][1]["nvlinks"][7]["active"] = False
    gpus = parse_nvlink_status(smi(profile, "nvlink", "-s").stdout)
    assert gpus[1].inactive_links == (7,)
    assert gpus[0].inactive_links == ()
    matrix = parse_topo_matrix(smi(profile, "topo", "-m").stdout)
    assert matrix.link("GPU0", "GPU1") == "NV17"
    assert matrix.link("GPU0", "GPU2") == "NV18"
    fabric = parse_query(smi(profile, "-q").stdout).gpus[1].fabric
    assert fabric is not None
    assert fabric.health_summary == "Unhealthy"


def test_pcie_downgrade() -> None:
    profile = profile_of("hgx-h100")
    profile["gpus"][0]["pcie"].update(gen=4, width=8)
    pcie = parse_query(smi(profile, "-q").stdout).gpus[0].pcie
    assert pcie is not None
    assert pcie.downgraded


def test_fabric_manager_down_leaves_fabric_in_progress() -> None:
    profile = profile_of("hgx-h100")
    profile["services"]["nvidia-fabricmanager"] = "failed"
    fabric = parse_query(smi(profile, "-q").stdout).gpus[0].fabric
    assert fabric is not None
    assert fabric.state == "In Progress"
    assert parse_query(smi(profile_of("hgx-h100"), "-q").stdout).gpus[0].fabric.state == "Completed"


def test_nvl72_tray_reports_clique_and_health() -> None:
    fabric = parse_query(smi(profile_of("gb200-nvl72"), "-q").stdout).gpus[0].fabric
    assert fabric is not None
    assert fabric.clique_id
    assert fabric.cluster_uuid
    assert fabric.health_summary == "Healthy"


def test_cpu_node_has_no_driver() -> None:
    run = smi(profile_of("cpu"))
    assert run.code == 9
    assert "couldn't communicate with the NVIDIA driver" in run.stdout


def test_bad_arguments() -> None:
    profile = profile_of("hgx-h100")
    assert smi(profile, "--bogus").code == 2
    assert smi(profile, "--query-gpu=index").code == 2  # no --format
    assert smi(profile, "nvlink").code == 2

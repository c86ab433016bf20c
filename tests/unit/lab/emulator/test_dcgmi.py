"""dcgmi diag (text and JSON) and discovery on every GPU SKU; faults turn the right test to Fail."""

from __future__ import annotations

import pytest

from bringup.lab.emulator import dcgmi
from bringup.parsers.dcgmi import DiagReport, parse_diag_json, parse_diag_text

from .conftest import ENV, Profile, profile_of

LEVEL_TESTS = {
    1: ["software"],
    2: ["software", "memory", "pcie"],
    3: ["software", "memory", "diagnostic", "pcie", "targeted_stress", "targeted_power",
        "memory_bandwidth"],
    4: ["software", "memory", "diagnostic", "pulse_test", "pcie", "targeted_stress",
        "targeted_power", "memory_bandwidth", "memtest"],
}  # fmt: skip


def diag(profile: Profile, level: int, json: bool = False) -> tuple[int, DiagReport]:
    args = ["diag", "-r", str(level)] + (["-j"] if json else [])
    run = dcgmi.main(args, profile, ENV)
    report = parse_diag_json(run.stdout) if json else parse_diag_text(run.stdout)
    return run.code, report


@pytest.mark.parametrize("level", [1, 2, 3, 4])
@pytest.mark.parametrize("json", [False, True])
def test_healthy_node_passes_every_level(gpu_profile: Profile, level: int, json: bool) -> None:
    code, report = diag(gpu_profile, level, json)
    assert code == 0
    assert [t.name for t in report.tests] == LEVEL_TESTS[level]
    assert {t.status for t in report.tests} == {"Pass"}
    if json:
        gpus = {g["index"] for g in gpu_profile["gpus"]}
        assert all(set(t.gpu_status) == gpus for t in report.tests)
        assert report.metadata["Driver Version Detected"] == gpu_profile["driver"]["version"]
    else:
        assert report.metadata["DCGM Version"] == dcgmi.DCGM_VERSION


def _failed(report: DiagReport, test: str, gpu: int, text: str) -> bool:
    found = next(t for t in report.tests if t.name == test)
    named = any(m.gpu == gpu and text in m.text for m in found.messages)
    return found.status == "Fail" and named


@pytest.mark.parametrize("json", [False, True])
def test_row_remap_pending_fails_the_deployment_checks(json: bool) -> None:
    profile = profile_of("hgx-h100")
    profile["gpus"][3]["row_remap"]["pending"] = True
    code, report = diag(profile, 1, json)
    assert code == dcgmi.EXIT_NVVS_ERROR
    assert _failed(report, "software", 3, "row remappings are pending")


@pytest.mark.parametrize("json", [False, True])
def test_uncorrectable_ecc_fails_gpu_memory(json: bool) -> None:
    profile = profile_of("gb200-nvl72")
    profile["gpus"][1]["ecc"]["volatile_uncorrected"] = 2
    code, report = diag(profile, 2, json)
    assert code == dcgmi.EXIT_ISOLATE
    assert _failed(report, "memory", 1, "Detected 2 volatile double-bit ECC error(s) in GPU 1.")
    assert next(t for t in report.tests if t.name == "software").status == "Pass"
    assert diag(profile, 1, json)[0] == 0  # level 1 does not exercise the memory


@pytest.mark.parametrize("json", [False, True])
def test_inactive_nvlink_fails_pcie(json: bool) -> None:
    profile = profile_of("hgx-b200")
    profile["gpus"][2]["nvlinks"][5]["active"] = False
    code, report = diag(profile, 2, json)
    assert code == dcgmi.EXIT_ISOLATE
    assert _failed(report, "pcie", 2, "GPU 2's NvLink link 5 is currently down")


def test_json_names_the_failing_gpu_and_the_dcgm_error() -> None:
    profile = profile_of("hgx-a100")
    profile["gpus"][0]["persistence_mode"] = False
    profile["gpus"][5]["row_remap"]["failure"] = True
    code, report = diag(profile, 1, json=True)
    software = report.tests[0]
    assert code == dcgmi.EXIT_ISOLATE
    assert {i: s for i, s in software.gpu_status.items() if s == "Fail"} == {0: "Fail", 5: "Fail"}
    assert {(m.gpu, m.error_id) for m in software.messages} == {(0, 29), (5, 80)}


def test_pcie_downgrade_fails_pcie() -> None:
    profile = profile_of("hgx-h200")
    profile["gpus"][7]["pcie"]["width"] = 8
    code, report = diag(profile, 2, json=True)
    assert code == dcgmi.EXIT_NVVS_ERROR
    assert _failed(report, "pcie", 7, "PCI link width 8X")


def test_gpu_off_the_bus_stops_the_diagnostic() -> None:
    profile = profile_of("hgx-h100")
    profile["gpus"][6]["present"] = False
    run = dcgmi.main(["diag", "-r", "1"], profile, ENV)
    assert run.code == dcgmi.EXIT_GPU_LOST
    assert run.stdout.startswith("Error: Unable to complete diagnostic.")
    report = parse_diag_json(dcgmi.main(["diag", "-r", "1", "-j"], profile, ENV).stdout)
    assert report.runtime_error
    assert "GPU is lost" in report.runtime_error


def test_bad_level_is_refused() -> None:
    assert dcgmi.main(["diag", "-r", "7"], profile_of("hgx-h100"), ENV).code == dcgmi.EXIT_BADPARAM


def test_discovery_lists_gpus_and_switches() -> None:
    profile = profile_of("hgx-h100")
    text = dcgmi.main(["discovery", "-l"], profile, ENV).stdout
    assert text.startswith("8 GPUs found.\n")
    assert all(f"Device UUID: {g['uuid']}" in text for g in profile["gpus"])
    assert "4 NvSwitches found." in text
    tray = dcgmi.main(["discovery", "-l"], profile_of("gb200-nvl72"), ENV).stdout
    assert tray.startswith("4 GPUs found.\n")
    assert "0 NvSwitches found." in tray


def test_entity_selection_runs_on_the_named_gpus_only() -> None:
    profile = profile_of("hgx-h100")
    profile["gpus"][5]["row_remap"]["pending"] = True
    run = dcgmi.main(["diag", "-r", "1", "-j", "-i", "0,1"], profile, ENV)
    report = parse_diag_json(run.stdout)
    assert run.code == 0
    assert set(report.tests[0].gpu_status) == {0, 1}


def test_text_report_keeps_every_gpu_after_a_warning_and_whole_metadata() -> None:
    """Rows after a wrapped warning are GPU results again, and 46-character cells stay whole."""
    profile = profile_of("hgx-h100")
    profile["gpus"][2]["row_remap"]["pending"] = True
    _, report = diag(profile, 2)
    software = report.tests[0]
    assert software.gpu_status == {i: "Fail" if i == 2 else "Pass" for i in range(8)}
    assert [m.text for m in software.messages] == [
        "GPU 2 had memory errors and row remappings are pending"
    ]
    ids = report.metadata["GPU Device IDs Detected"].split(", ")
    assert len(ids) == 8
    assert len(set(ids)) == 1

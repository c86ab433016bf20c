"""dcgmi diag -j: no real capture exists (PROVENANCE.md, known gaps).

The documents below follow DCGM's JSON writer (dcgmi/Diag.cpp, nvvs/include/NvvsJsonStrings.h
in NVIDIA/DCGM): DCGM 4.x with entity_group/entity_id, test_summary and "metadata"; 3.x with
gpu_id and warning objects; 2.x with the "DCGM GPU Diagnostic" root, gpu_ids and string
warnings; and a run that failed with runtime_error.
"""

from __future__ import annotations

import json

import pytest

from bringup.parsers import ParseError
from bringup.parsers.dcgmi import parse_diag_json

DCGM4 = {
    "DCGM Diagnostic": {
        "test_categories": [
            {
                "category": "Deployment",
                "tests": [
                    {
                        "name": "software",
                        "results": [
                            {
                                "entity_group": "GPU",
                                "entity_group_id": 1,
                                "entity_id": 0,
                                "status": "Pass",
                            },
                            {
                                "entity_group": "GPU",
                                "entity_group_id": 1,
                                "entity_id": 1,
                                "status": "Pass",
                            },
                        ],
                        "test_summary": {"status": "Pass"},
                    }
                ],
            },
            {
                "category": "Hardware",
                "tests": [
                    {
                        "name": "memory",
                        "results": [
                            {
                                "entity_group": "GPU",
                                "entity_group_id": 1,
                                "entity_id": 0,
                                "status": "Pass",
                                "info": ["Allocated 77 GB"],
                            },
                            {
                                "entity_group": "GPU",
                                "entity_group_id": 1,
                                "entity_id": 1,
                                "status": "Fail",
                                "warnings": [
                                    {
                                        "error_category": 3,
                                        "error_id": 95,
                                        "error_severity": 2,
                                        "warning": (
                                            "GPU 1 has uncorrectable memory errors"
                                            " and row remappings are pending"
                                        ),
                                    }
                                ],
                            },
                        ],
                        "test_summary": {"status": "Fail"},
                    }
                ],
            },
        ]
    },
    "entity_groups": [
        {"entity_group": "GPU", "entity_group_id": 1, "entities": [{"entity_id": 0}]}
    ],
    "metadata": {"version": "4.2.3", "Driver Version Detected": "570.148.08"},
}

DCGM3 = {
    "DCGM Diagnostic": {
        "test_categories": [
            {
                "category": "Integration",
                "tests": [
                    {
                        "name": "PCIe",
                        "results": [
                            {"gpu_id": "0", "status": "Pass"},
                            {
                                "gpu_id": "1",
                                "status": "Warn",
                                "warnings": [{"warning": "PCIe replay rate high", "error_id": 50}],
                                "info": "GPU to Host bandwidth: 12.33 GB/s",
                            },
                        ],
                    }
                ],
            }
        ]
    },
    "version": "3.3.7",
    "Driver Version Detected": "560.35.03",
    "GPU Device IDs": ["2321", "2321"],
}

DCGM2 = {
    "DCGM GPU Diagnostic": {
        "test_categories": [
            {
                "category": "Deployment",
                "tests": [
                    {"name": "Blacklist", "results": [{"gpu_ids": "0,1,2,3", "status": "PASS"}]}
                ],
            },
            {
                "category": "Stress",
                "tests": [
                    {
                        "name": "SM Stress",
                        "results": [{"gpu_ids": "2", "status": "FAIL", "warnings": "GPU 2 failed"}],
                    }
                ],
            },
        ]
    }
}


def test_dcgm4_results_per_entity_and_summary() -> None:
    report = parse_diag_json(json.dumps(DCGM4, indent=4))
    assert report.metadata == {"version": "4.2.3", "Driver Version Detected": "570.148.08"}
    software, memory = report.tests
    assert (software.category, software.name, software.status) == ("Deployment", "software", "Pass")
    assert dict(software.gpu_status) == {0: "Pass", 1: "Pass"}
    assert (memory.category, memory.status, memory.failed_gpus) == ("Hardware", "Fail", (1,))
    info, warning = memory.messages
    assert (info.kind, info.gpu, info.text) == ("Info", 0, "Allocated 77 GB")
    assert (warning.kind, warning.gpu, warning.error_id) == ("Warning", 1, 95)
    assert "row remappings are pending" in warning.text
    assert report.failed


def test_dcgm3_gpu_id_and_warning_objects() -> None:
    report = parse_diag_json(json.dumps(DCGM3))
    (pcie,) = report.tests
    assert dict(pcie.gpu_status) == {0: "Pass", 1: "Warn"}
    assert pcie.status == "Warn"
    assert [(m.kind, m.gpu, m.error_id) for m in pcie.messages] == [
        ("Warning", 1, 50),
        ("Info", 1, None),
    ]
    assert report.metadata["GPU Device IDs"] == "2321,2321"
    assert not report.failed


def test_dcgm2_root_key_gpu_ids_and_string_warnings() -> None:
    report = parse_diag_json(json.dumps(DCGM2))
    blacklist, stress = report.tests
    assert dict(blacklist.gpu_status) == {0: "Pass", 1: "Pass", 2: "Pass", 3: "Pass"}
    assert stress.failed_gpus == (2,)
    assert stress.messages[0].text == "GPU 2 failed"
    assert report.failed


def test_runtime_error_is_a_failed_report() -> None:
    report = parse_diag_json(
        json.dumps(
            {"DCGM Diagnostic": {"version": "3.3.7", "runtime_error": "Error: DCGM is paused."}}
        )
    )
    assert report.tests == ()
    assert report.runtime_error == "Error: DCGM is paused."
    assert report.failed


def test_invalid_json_names_the_line() -> None:
    text = '{\n  "DCGM Diagnostic": {\n    "test_categories": [,]\n  }\n}\n'
    with pytest.raises(ParseError, match="not JSON") as raised:
        parse_diag_json(text)
    assert raised.value.lineno == 3


def test_other_documents_are_parse_errors() -> None:
    with pytest.raises(ParseError, match="no 'DCGM Diagnostic' object"):
        parse_diag_json('{"iterations": []}')
    with pytest.raises(ParseError, match="not a JSON object"):
        parse_diag_json("[1, 2]")
    text = json.dumps(
        {"DCGM Diagnostic": {"test_categories": [{"tests": [{"results": []}]}]}}, indent=2
    )
    with pytest.raises(ParseError, match="no 'name'") as raised:
        parse_diag_json(text)
    assert '"tests"' in raised.value.line

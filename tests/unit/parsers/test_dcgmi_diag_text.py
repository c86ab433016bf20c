"""dcgmi diag -r N (table): real DCGM 1.x-3.x and 4.x captures, whole and excerpted, and the
field shapes of tests/fixtures/field/dcgmi-diag (elided rows, a glued GPU prefix)."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.dcgmi import parse_diag_text

from .conftest import field, real

DEPLOYMENT_1X = [
    "Blacklist",
    "NVML Library",
    "CUDA Main Library",
    "Permissions and OS Blocks",
    "Persistence Mode",
    "Environment Variables",
    "Page Retirement",
    "Graphics Processes",
    "Inforom",
]


def test_r1_pass_all_deployment_tests_pass() -> None:
    report = parse_diag_text(real("dcgmi-diag/dcgmi-diag-r1_pass_deepops.txt"))
    assert [test.name for test in report.tests] == DEPLOYMENT_1X
    assert {test.category for test in report.tests} == {"Deployment"}
    assert {test.status for test in report.tests} == {"Pass"}
    assert not report.failed


def test_r1_fail_names_the_failed_deployment_tests() -> None:
    report = parse_diag_text(real("dcgmi-diag/dcgmi-diag-r1_fail_deepops.txt"))
    assert report.failed
    failed = [test.name for test in report.tests if test.failed]
    assert failed == DEPLOYMENT_1X[4:]
    assert report.test("nvml library").status == "Pass"


def test_r2_gpu_memory_fail_on_gpu0_with_its_warning() -> None:
    report = parse_diag_text(
        real("dcgmi-diag/dcgmi-diag-r2_gpu-memory-fail-cuda-busy_t4_EXCERPT_go-dcgm-issue52.txt")
    )
    assert report.failed
    memory = report.test("GPU Memory")
    assert memory.category == "Hardware"
    assert memory.status == "Fail"
    assert dict(memory.gpu_status) == {1: "Pass", 0: "Fail"}
    assert memory.failed_gpus == (0,)
    (warning,) = memory.messages
    assert warning.kind == "Warning"
    assert warning.gpu == 0
    assert warning.text.startswith("GPU 0 Error using CUDA API cuCtxCreate Check DCGM")
    assert "Unable to create CUDA context: 'CUDA-capable device(s) is/are busy" in warning.text


def test_r2_excerpt_keeps_text_whose_label_was_cut() -> None:
    report = parse_diag_text(
        real("dcgmi-diag/dcgmi-diag-r2_gpu-memory-fail-cuda-busy_t4_EXCERPT_go-dcgm-issue52.txt")
    )
    cut, busy, bandwidth = report.messages
    assert cut.kind is None
    assert cut.text.startswith("able''' Check DCGM")
    assert (busy.kind, busy.gpu) == ("Info", 0)
    assert "cudaStreamCreate failed: 'CUDA-capable device(s)" in busy.text
    assert bandwidth.text.endswith("GPU 1 bidirectional bandwidth: 22.63 GB/s")


def test_r2_thermal_warning_is_joined_across_wrapped_rows() -> None:
    report = parse_diag_text(
        real("dcgmi-diag/dcgmi-diag-r2_gpu-memory-fail-thermal_EXCERPT_ml-engineering.txt")
    )
    (memory,) = report.tests
    assert memory.category is None  # the excerpt starts below the separator
    assert memory.failed_gpus == (0,)
    assert sorted(gpu for gpu, status in memory.gpu_status.items() if status == "Pass") == list(
        range(1, 8)
    )
    (warning,) = memory.messages
    assert "Thermal violations totaling 13.3 seconds started at 9.7 seconds" in warning.text
    assert warning.text.endswith("fans, and any other components.")


def test_r3_deployment_error_row_remap_pending() -> None:
    report = parse_diag_text(
        real(
            "dcgmi-diag/dcgmi-diag-r3_deployment-error-row-remap-pending_EXCERPT_ml-engineering.txt"
        )
    )
    assert report.tests == ()
    (error,) = report.messages
    assert (error.kind, error.gpu) == ("Error", 3)
    assert error.text == "GPU 3 has uncorrectable memory errors and row remappings are pending"
    assert report.failed


def test_r2_header_metadata_and_truncated_last_row() -> None:
    report = parse_diag_text(
        real("dcgmi-diag/dcgmi-diag-r2_header_h100nvl-nvlinks-down_EXCERPT_DCGM-issue198.txt")
    )
    assert report.metadata == {
        "DCGM Version": "3.3.7",
        "Driver Version Detected": "560.35.03",
        "GPU Device IDs Detected": "2321,2321",
    }
    assert [(t.name, t.status) for t in report.tests] == [
        ("Denylist", "Pass"),
        ("NVML Library", "Pass"),
    ]
    assert not report.failed  # the diag passed although all NVLinks were down (see dcgmi nvlink)


def test_dcgm4_per_gpu_layout() -> None:
    report = parse_diag_text(
        real("dcgmi-diag/dcgmi-diag_dcgm4.2.3-format_l40s_EXCERPT_DCGM-issue253.txt")
    )
    assert report.metadata["DCGM Version"] == "4.2.3"
    (software,) = report.tests
    assert (software.name, software.category, software.status) == ("software", "Deployment", "Pass")
    assert dict(software.gpu_status) == {0: "Pass", 1: "Pass", 2: "Pass", 3: "Pass"}


def test_dcgm4_failure_with_gpu_labelled_warning() -> None:
    text = (
        "|-----  Hardware  ----------+------------------------------------------------|\n"
        "| memory                    | Fail                                           |\n"
        "|                           | GPU0: Pass                                     |\n"
        "|                           | GPU1: Fail                                     |\n"
        "| Warning: GPU1             | Error using CUDA API cuInit Check DCGM and sy  |\n"
        "|                           | stem logs for errors.                          |\n"
    )
    (memory,) = parse_diag_text(text).tests
    assert memory.failed_gpus == (1,)
    (warning,) = memory.messages
    assert (warning.gpu, warning.text) == (
        1,
        "Error using CUDA API cuInit Check DCGM and system logs for errors.",
    )


ELIDED = "dcgmi-diag/dcgmi-diag-r3_h100x8_dcgm3.3.5_elided-rows.txt"
GLUED = "dcgmi-diag/dcgmi-diag-r2_h100x8_dcgm3.3.5_glued-gpu-prefix.txt"


def test_field_elided_rows_are_noted_and_the_rows_around_them_read() -> None:
    report = parse_diag_text(field(ELIDED))
    assert report.elided_lines == (12, 25)
    assert report.elided
    assert report.metadata["GPU Device IDs Detected"] == ",".join(["2330"] * 8)
    assert [(test.category, test.name) for test in report.tests] == [
        ("Deployment", "Denylist"),
        ("Deployment", "NVML Library"),
        ("Deployment", "Inforom"),
        ("Integration", "PCIe"),
        ("Hardware", "GPU Memory"),
        ("Hardware", "Diagnostic"),
        ("Stress", "Targeted Stress"),
        ("Stress", "Targeted Power"),
        ("Stress", "Memory Bandwidth"),
    ]
    assert report.failed
    assert [(test.name, test.failed_gpus) for test in report.tests if test.failed] == [
        ("GPU Memory", (5,)),
        ("Targeted Power", (2,)),
    ]
    (thermal,) = report.test("Targeted Power").messages
    assert (thermal.kind, thermal.gpu) == ("Warning", 2)
    assert thermal.text.endswith("thermal material interface, fans, and any other components.")
    assert report.messages == ()


def test_a_report_without_elisions_says_so() -> None:
    report = parse_diag_text(real("dcgmi-diag/dcgmi-diag-r1_pass_deepops.txt"))
    assert (report.elided_lines, report.elided) == ((), False)


def test_an_elision_inside_a_wrapped_message_closes_it() -> None:
    text = (
        "|-----  Hardware  ----------+------------------------------------------------|\n"
        "| memory                    | Fail - GPU: 1                                  |\n"
        "| Warning                   | GPU 1 Error using CUDA API cuInit Check DCGM   |\n"
        "[...]\n"
        "|                           | Rerun diagnostics.                             |\n"
    )
    report = parse_diag_text(text)
    assert report.elided_lines == (4,)
    (memory,) = report.tests
    (warning,) = memory.messages
    assert warning.text == "GPU 1 Error using CUDA API cuInit Check DCGM"
    (tail,) = report.messages  # the text after the gap is not glued onto the text before it
    assert (tail.kind, tail.text) == (None, "Rerun diagnostics.")


def test_dcgm4_gpu_rows_after_an_elision_continue_the_test_before_it() -> None:
    text = (
        "|-----  Hardware  ----------+------------------------------------------------|\n"
        "| memory                    | Fail                                           |\n"
        "|                           | GPU0: Pass                                     |\n"
        "...\n"
        "|                           | GPU6: Fail                                     |\n"
        "|                           | GPU7: Pass                                     |\n"
    )
    (memory,) = parse_diag_text(text).tests
    assert dict(memory.gpu_status) == {0: "Pass", 6: "Fail", 7: "Pass"}
    assert memory.failed_gpus == (6,)


def test_field_glued_gpu_prefix_keeps_the_gpu_index() -> None:
    report = parse_diag_text(field(GLUED))
    pcie = report.test("PCIe")
    assert pcie.failed_gpus == (0, 3)
    assert [(m.kind, m.gpu) for m in pcie.messages] == [("Warning", 0), ("Warning", 3)]
    assert pcie.messages[0].text.startswith("GPU 0GPU 0's NvLink link 4 is currently down")
    assert pcie.messages[1].text.startswith("GPU 3GPU 3's NvLink link 11 is currently down")
    assert report.elided_lines == ()


@pytest.mark.parametrize(
    ("text", "gpu"),
    [
        ("GPU 12GPU 12's NvLink link 0 is currently down", 12),
        ("GPU 5 Found 1 faulty memory elements on GPU 5", 5),
        ("GPU2 had memory errors and row remappings are pending", 2),
        ("Persistence mode for GPU 3 is disabled.", None),  # the index must lead the text
    ],
)
def test_the_gpu_index_is_read_from_the_start_of_a_message(text: str, gpu: int | None) -> None:
    row = f"| Warning                   | {text[:45]:<45}  |\n"
    if text[45:]:
        row += f"|                           | {text[45:]:<45}  |\n"
    (message,) = parse_diag_text(row).messages
    assert (message.text, message.gpu) == (text, gpu)


def test_an_unknown_result_names_its_line() -> None:
    text = "+---+\n| Blacklist                 | Maybe                                          |\n"
    with pytest.raises(ParseError, match="not a diagnostic result") as raised:
        parse_diag_text(text.replace("+---+\n", ""))
    assert raised.value.lineno == 1


def test_text_inside_the_table_is_a_parse_error() -> None:
    lines = real("dcgmi-diag/dcgmi-diag-r1_pass_deepops.txt").splitlines()
    lines.insert(6, "Segmentation fault (core dumped)")
    with pytest.raises(ParseError, match="inside the result table") as raised:
        parse_diag_text("\n".join(lines))
    assert raised.value.lineno == 7


def test_garbage_and_empty_are_parse_errors() -> None:
    with pytest.raises(ParseError, match="no dcgmi diag result table") as raised:
        parse_diag_text("Error: unable to connect to host engine\n")
    assert raised.value.lineno == 1
    with pytest.raises(ParseError, match="empty input"):
        parse_diag_text("")

"""`dcgmi diag -r N [-j]` and `dcgmi discovery -l`, as DCGM 4.2.3 (the catalog's DCGM) prints them.

Text layout: the DCGM 4.x table of fixtures/real/dcgmi-diag/dcgmi-diag_dcgm4.2.3-format_l40s...
(Metadata, then one line per test with its overall result and one 'GPUn: Pass' line per GPU;
an error is a 'Warning: GPUn' row wrapped at 45 characters), drawn with the stencils of DCGM 4's
dcgmi/Diag.cpp. DCGM 4 runs the deployment checks (Denylist, NVML Library, ..., Page
Retirement/Row Remap, Inforom) as the one 'software' test; a failed check names itself in the
warning text. The failure texts are dcgm_errors.h's. No real `dcgmi diag -j` capture exists: the
JSON follows DCGM 4's Diag.cpp (HelperJsonBuildOutput) and jsoncpp's styled writer (sorted keys,
3-space indent). `discovery -l` follows NVIDIA's documented sample (DCGM user guide).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import _gpu
from ._base import Env, Run, domain_spans_nodes, driver_version, flag_value, gpus, present

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

DCGM_VERSION = "4.2.3"
RULE = "+---------------------------+------------------------------------------------+"
HEADER = (
    RULE,
    "| Diagnostic                | Result                                         |",
    "+===========================+================================================+",
)
SECTIONS = {
    "Metadata": "|-----  Metadata  ----------+------------------------------------------------|",
    "Deployment": "|-----  Deployment  --------+------------------------------------------------|",
    "Hardware": "+-----  Hardware  ----------+------------------------------------------------+",
    "Integration": "+-----  Integration  -------+------------------------------------------------+",
    "Stress": "+-----  Stress  ------------+------------------------------------------------+",
}
# (test, category, lowest level that runs it), in the order DCGM 4 reports them.
TESTS = (
    ("software", "Deployment", 1),
    ("memory", "Hardware", 2),
    ("diagnostic", "Hardware", 3),
    ("pulse_test", "Hardware", 4),
    ("pcie", "Integration", 2),
    ("targeted_stress", "Stress", 3),
    ("targeted_power", "Stress", 3),
    ("memory_bandwidth", "Stress", 3),
    ("memtest", "Stress", 4),
)
# dcgm_errors.h: (code, severity, category) of the failures the lab produces.
ERRORS = {
    "PERSISTENCE_MODE": (29, 5, 3),
    "PENDING_ROW_REMAP": (85, 6, 10),
    "ROW_REMAP_FAILURE": (80, 2, 10),
    "VOLATILE_DBE_DETECTED": (4, 2, 10),
    "NVLINK_DOWN": (14, 2, 11),
    "PCIE_GENERATION": (45, 5, 13),
    "PCIE_WIDTH": (46, 5, 13),
}
ISOLATE = 2
EXIT_NVVS_ERROR, EXIT_ISOLATE, EXIT_GPU_LOST, EXIT_BADPARAM = 226, 205, 238, 254  # -30 -51 -18 -2


@dataclass
class Failure:
    """One error a test reports for one GPU."""

    kind: str
    message: str


@dataclass
class TestResult:
    """A test's outcome on every GPU it ran on."""

    name: str
    category: str
    failures: dict[int, list[Failure]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not any(self.failures.values())


def main(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """Run `dcgmi args`: diag or discovery."""
    args = list(args)
    if args[:1] == ["discovery"] and ("-l" in args or "--list" in args):
        return Run(discovery(profile))
    if args[:1] != ["diag"]:
        return Run("", "Usage: dcgmi subsystem\n", EXIT_BADPARAM)
    level_text = flag_value(args, "-r", "--run") or ""
    level = {"short": 1, "quick": 1, "medium": 2, "long": 3, "xlong": 4}.get(level_text)
    if level is None and level_text.isdigit() and 1 <= int(level_text) <= 4:
        level = int(level_text)
    if level is None:
        return Run(f"Error: the run level '{level_text}' is not valid.\n", code=EXIT_BADPARAM)
    lost = [g for g in gpus(profile) if not present(g)]
    if lost:
        message = "Error: Unable to complete diagnostic. Return: (-18) : GPU is lost\n"
        if "-j" in args or "--json" in args:
            body = {"DCGM Diagnostic": {"runtime_error": message.strip(), "version": DCGM_VERSION}}
            return Run(_styled(body) + "\n", code=EXIT_GPU_LOST)
        return Run(message, code=EXIT_GPU_LOST)
    entities = flag_value(args, "-i", "--entity-id")
    chosen = None if entities in (None, "*") else {int(i) for i in str(entities).split(",")}
    results = run_tests(profile, level, chosen)
    text = (
        render_json(profile, results)
        if "-j" in args or "--json" in args
        else render(profile, results)
    )
    return Run(text, code=exit_code(results))


def run_tests(profile: Profile, level: int, chosen: set[int] | None = None) -> list[TestResult]:
    """The tests of `level` on the `chosen` GPUs (default all), with the failures the profile's
    faults cause."""
    results = []
    for name, category, lowest in TESTS:
        if level < lowest:
            continue
        result = TestResult(name, category)
        for gpu in gpus(profile):
            if chosen is None or int(gpu["index"]) in chosen:
                result.failures[int(gpu["index"])] = _check(name, gpu)
        results.append(result)
    return results


def _check(test: str, gpu: GpuProfile) -> list[Failure]:
    i = int(gpu["index"])
    found: list[Failure] = []
    if test == "software":
        if not gpu.get("persistence_mode"):
            found.append(Failure("PERSISTENCE_MODE", f"Persistence mode for GPU {i} is disabled."))
        rows = _gpu.remap(gpu)
        if rows.failure:
            found.append(
                Failure(
                    "ROW_REMAP_FAILURE",
                    f"GPU {i} had uncorrectable memory errors and row remapping failed.",
                )
            )
        elif rows.pending:
            found.append(
                Failure(
                    "PENDING_ROW_REMAP", f"GPU {i} had memory errors and row remappings are pending"
                )
            )
    elif test == "memory":
        dbe = _gpu.ecc_totals(gpu)["uncorrected.volatile"]
        if dbe:
            found.append(
                Failure(
                    "VOLATILE_DBE_DETECTED",
                    f"Detected {dbe} volatile double-bit ECC error(s) in GPU {i}.",
                )
            )
    elif test == "pcie":
        found += _pcie_failures(gpu)
    return found


def _pcie_failures(gpu: GpuProfile) -> list[Failure]:
    i = int(gpu["index"])
    found = [
        Failure("NVLINK_DOWN", f"GPU {i}'s NvLink link {link['link']} is currently down")
        for link in gpu.get("nvlinks") or []
        if not link.get("active")
    ]
    link = _gpu.pcie(gpu)
    if link["gen"] < link["max_gen"]:
        found.append(
            Failure(
                "PCIE_GENERATION",
                f"GPU {i} is running at PCI link generation {link['gen']}, which is below the "
                f"minimum allowed link generation of {link['max_gen']} "
                "(parameter 'min_pci_generation')",
            )
        )
    if link["width"] < link["max_width"]:
        found.append(
            Failure(
                "PCIE_WIDTH",
                f"GPU {i} is running at PCI link width {link['width']}X, which is below the "
                f"minimum allowed link generation of {link['max_width']} "
                "(parameter 'min_pci_width')",
            )
        )
    return found


def exit_code(results: list[TestResult]) -> int:
    """dcgmi's status: NVVS_ISOLATE_ERROR before NVVS_ERROR before success (as an exit byte)."""
    kinds = [f.kind for r in results for fs in r.failures.values() for f in fs]
    if any(ERRORS[kind][1] == ISOLATE for kind in kinds):
        return EXIT_ISOLATE
    return EXIT_NVVS_ERROR if kinds else 0


def _row(name: str, info: str) -> str:
    return f"| {name:<25} | {info:<46} |"


def _wrapped(name: str, message: str) -> list[str]:
    chunks = [message[i : i + 45] for i in range(0, len(message), 45)] or [""]
    return [_row(name if n == 0 else "", chunk) for n, chunk in enumerate(chunks)]


def _device_ids(profile: Profile) -> list[str]:
    return [_gpu.board(g).device_id[2:6].lower() for g in gpus(profile)]


def render(profile: Profile, results: list[TestResult]) -> str:
    """The DCGM 4 text table."""
    lines = ["Successfully ran diagnostic for group.", *HEADER, SECTIONS["Metadata"]]
    lines.append(_row("DCGM Version", DCGM_VERSION))
    lines.append(_row("Driver Version Detected", driver_version(profile)))
    lines.append(_row("GPU Device IDs Detected", ", ".join(_device_ids(profile))))
    for category in ("Deployment", "Hardware", "Integration", "Stress"):
        tests = [r for r in results if r.category == category]
        if tests:
            lines.append(SECTIONS[category])
        for result in tests:
            lines.append(_row(result.name, "Pass" if result.passed else "Fail"))
            for index, failures in sorted(result.failures.items()):
                lines.append(_row("", f"GPU{index}: {'Fail' if failures else 'Pass'}"))
                for failure in failures:
                    lines += _wrapped(f"Warning: GPU{index}", failure.message)
    lines.append(RULE)
    return "\n".join(lines) + "\n"


def render_json(profile: Profile, results: list[TestResult]) -> str:
    """`dcgmi diag -j`: DCGM 4's JSON document."""
    entities = [
        {
            "entity_id": int(g["index"]),
            "serial_num": str(g["serial"]),
            "device_id": _gpu.board(g).device_id[2:6].lower(),
        }
        for g in gpus(profile)
    ]
    categories: list[dict[str, object]] = []
    for category in ("Deployment", "Hardware", "Integration", "Stress"):
        tests = [_json_test(r) for r in results if r.category == category]
        if tests:
            categories.append({"category": category, "tests": tests})
    document = {
        "entity_groups": [{"entity_group": "GPU", "entity_group_id": 1, "entities": entities}],
        "metadata": {"version": DCGM_VERSION, "Driver Version Detected": driver_version(profile)},
        "DCGM Diagnostic": {"test_categories": categories},
    }
    return _styled(document) + "\n"


def _json_test(result: TestResult) -> dict[str, object]:
    entries = []
    for index, failures in sorted(result.failures.items()):
        entry: dict[str, object] = {
            "entity_group": "GPU",
            "entity_group_id": 1,
            "entity_id": index,
            "status": "Fail" if failures else "Pass",
        }
        if failures:
            entry["warnings"] = [
                {
                    "warning": f.message,
                    "error_id": ERRORS[f.kind][0],
                    "error_severity": ERRORS[f.kind][1],
                    "error_category": ERRORS[f.kind][2],
                }
                for f in failures
            ]
        entries.append(entry)
    summary = {"status": "Pass" if result.passed else "Fail"}
    return {"name": result.name, "results": entries, "test_summary": summary}


def _styled(document: object) -> str:
    """jsoncpp's toStyledString: keys sorted, 3-space indent, ' : ' between key and value."""
    return json.dumps(document, indent=3, sort_keys=True, separators=(",", " : "))


def discovery(profile: Profile) -> str:
    """`dcgmi discovery -l`: the GPUs and NVSwitches DCGM sees."""
    rule = "+--------+----------------------------------------------------------------------+"
    shown = [g for g in gpus(profile) if present(g)]
    lines = [
        f"{len(shown)} GPUs found.",
        rule,
        "| GPU ID | Device Information                                                   |",
        rule,
    ]
    for gpu in shown:
        lines.append(f"| {gpu['index']!s:<6} | {'Name: ' + str(gpu['name']):<68} |")
        lines.append(f"|        | {'PCI Bus ID: ' + str(gpu['pci_bus_id']):<68} |")
        lines.append(f"|        | {'Device UUID: ' + str(gpu['uuid']):<68} |")
        lines.append(rule)
    switches = _nvswitches(profile)
    lines += [f"{switches} NvSwitches found.", "+-----------+", "| Switch ID |", "+-----------+"]
    lines += [f"| {i:<9} |" for i in range(switches)]
    lines.append("+-----------+")
    return "\n".join(lines) + "\n"


def _nvswitches(profile: Profile) -> int:
    """NVSwitch chips on the baseboard (DOMAIN.md §1); none on an NVL72 tray (they are in the
    switch trays) and none without NVLink."""
    all_gpus = gpus(profile)
    if not all_gpus or domain_spans_nodes(profile) or not all_gpus[0].get("nvlinks"):
        return 0
    return {"ampere": 6, "hopper": 4}.get(str(all_gpus[0].get("architecture")), 2)

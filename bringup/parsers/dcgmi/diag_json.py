"""`dcgmi diag -r N -j`: the JSON document, into the same DiagReport as the table.

No real capture was available; this follows DCGM's own writer (dcgmi/Diag.cpp and
nvvs/include/NvvsJsonStrings.h in NVIDIA/DCGM) across its versions:

- root object "DCGM Diagnostic" (older: "DCGM GPU Diagnostic") with "test_categories": a list of
  {"category", "tests": [{"name", "results": [...], "test_summary": {"status"}}]}, or
  "runtime_error" when the diagnostic could not run;
- a result names its GPU as "entity_group"/"entity_id" (4.x), "gpu_id" or "gpu_ids" (older);
- "warnings" is a list of {"warning", "error_id", ...} objects, or a plain string (older);
  "info" is a list of strings or a string;
- the version and driver are under "metadata" (4.x) or at the top level (3.x).
"""

from __future__ import annotations

import json
from typing import Any

from bringup.parsers._text import require_lines
from bringup.parsers.dcgmi.models import STATUSES, DiagMessage, DiagReport, DiagTest, worst
from bringup.parsers.errors import ParseError

TOOL = "dcgmi diag -j"

_ROOT_KEYS = ("DCGM Diagnostic", "DCGM GPU Diagnostic")
_METADATA_KEYS = ("version", "Driver Version Detected", "GPU Device IDs", "GPU Device Serials")


def parse_diag_json(text: str) -> DiagReport:
    """Parse the JSON that `dcgmi diag -j` prints."""
    lines = require_lines(TOOL, text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        line = lines[error.lineno - 1] if error.lineno <= len(lines) else ""
        raise ParseError(TOOL, error.lineno, line, f"not JSON ({error.msg})") from error
    if not isinstance(document, dict):
        raise ParseError(TOOL, 1, lines[0], "the document is not a JSON object")
    body = next((document[key] for key in _ROOT_KEYS if key in document), None)
    if not isinstance(body, dict):
        raise ParseError(TOOL, 1, lines[0], "no 'DCGM Diagnostic' object")
    categories = body.get("test_categories", [])
    if not isinstance(categories, list):
        raise _structure(lines, "test_categories", "'test_categories' is not a list")
    tests = [
        _test(lines, category.get("category"), entry)
        for category in categories
        if isinstance(category, dict)
        for entry in _list(lines, category, "tests")
    ]
    runtime_error = body.get("runtime_error")
    return DiagReport(
        tests=tuple(tests),
        metadata=_metadata(document),
        runtime_error=str(runtime_error) if runtime_error else None,
    )


def _structure(lines: list[str], needle: str, reason: str) -> ParseError:
    """A ParseError at the first line that mentions `needle`."""
    for lineno, line in enumerate(lines, start=1):
        if needle in line:
            return ParseError(TOOL, lineno, line, reason)
    return ParseError(TOOL, 1, lines[0], reason)


def _list(lines: list[str], parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _structure(lines, f'"{key}"', f"'{key}' is not a list of objects")
    return value


def _metadata(document: dict[str, Any]) -> dict[str, str]:
    source = document.get("metadata")
    if not isinstance(source, dict):
        source = {key: document[key] for key in _METADATA_KEYS if key in document}
    flat: dict[str, str] = {}
    for key, value in source.items():
        if isinstance(value, list):
            flat[key] = ",".join(str(item) for item in value)
        elif isinstance(value, dict):
            flat[key] = ",".join(f"{k}:{v}" for k, v in value.items())
        else:
            flat[key] = str(value)
    return flat


def _status(value: object) -> str | None:
    """'Pass', 'Fail', ... from 'PASS', 'Fail', 'Skip - All' and the like."""
    if not isinstance(value, str) or not value.strip():
        return None
    word = value.split()[0].capitalize()
    return word if word in STATUSES else value.strip()


def _gpus(result: dict[str, Any]) -> tuple[int, ...]:
    if "entity_group" in result and str(result["entity_group"]).upper() != "GPU":
        return ()
    for key in ("entity_id", "gpu_id", "gpu_ids"):
        value = result.get(key)
        if isinstance(value, int):
            return (value,)
        if isinstance(value, str) and value.strip():
            return tuple(int(part) for part in value.split(",") if part.strip().isdigit())
    return ()


def _messages(result: dict[str, Any], gpus: tuple[int, ...]) -> list[DiagMessage]:
    gpu = gpus[0] if len(gpus) == 1 else None
    found: list[DiagMessage] = []
    warnings = result.get("warnings", [])
    for warning in [warnings] if isinstance(warnings, str) else warnings:
        if isinstance(warning, str):
            found.append(DiagMessage("Warning", warning, gpu))
        elif isinstance(warning, dict):
            # Older DCGM wrote deployment warnings under "warnings" inside the entry.
            text = warning.get("warning", warning.get("warnings", ""))
            error_id = warning.get("error_id")
            found.append(
                DiagMessage(
                    "Warning",
                    str(text),
                    gpu,
                    error_id if isinstance(error_id, int) else None,
                )
            )
    info = result.get("info", [])
    for line in [info] if isinstance(info, str) else info:
        found.append(DiagMessage("Info", str(line), gpu))
    return found


def _test(lines: list[str], category: object, entry: dict[str, Any]) -> DiagTest:
    name = entry.get("name")
    if not isinstance(name, str):
        raise _structure(lines, '"tests"', "a test has no 'name'")
    statuses: list[str] = []
    gpu_status: dict[int, str] = {}
    messages: list[DiagMessage] = []
    for result in _list(lines, entry, "results"):
        status = _status(result.get("status"))
        gpus = _gpus(result)
        for gpu in gpus:
            if status is not None:
                gpu_status[gpu] = status
        if status is not None:
            statuses.append(status)
        messages.extend(_messages(result, gpus))
    summary = entry.get("test_summary")
    summary_status = _status(summary.get("status")) if isinstance(summary, dict) else None
    return DiagTest(
        category=str(category) if category is not None else None,
        name=name,
        status=summary_status or worst(statuses),
        gpu_status=gpu_status,
        messages=tuple(messages),
    )

"""Capture bundles: many nvidia-smi outputs of one machine in one file, one section each.

The format is nvidia_gpu_exporter's (internal/captures): a '#'-framed title
``# <phase> :: <name>`` and ``# $ <command>`` above each raw output. Splitting is all this
module does; SECTION_PARSERS says which parser reads which section.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bringup.parsers._text import first_content, require_lines
from bringup.parsers.errors import ParseError
from bringup.parsers.nvidia_smi.nvlink import parse_nvlink_status
from bringup.parsers.nvidia_smi.query import parse_query
from bringup.parsers.nvidia_smi.query_csv import parse_query_csv
from bringup.parsers.nvidia_smi.table import parse_table
from bringup.parsers.nvidia_smi.topo import parse_topo_matrix

TOOL = "nvidia-smi capture bundle"

_FRAME = re.compile(r"^#{20,}$")
_TITLE = re.compile(r"^# (?P<phase>[\w-]+) :: (?P<name>.+?)\s*$")
_COMMAND = re.compile(r"^# \$ (?P<command>.*?)\s*$")
_HEADER_FIELD = re.compile(r"^(?P<key>[a-z_]+):\s+(?P<value>.*)$")

# Section name (without phase) -> the parser for its body.
SECTION_PARSERS: Mapping[str, Callable[[str], object]] = {
    "nvidia-smi (default table)": parse_table,
    "query (-q)": parse_query,
    "query-gpu (csv, what the exporter parses)": parse_query_csv,
    "query-compute-apps (per-process)": parse_query_csv,
    "query-accounted-apps": parse_query_csv,
    "query-retired-pages": parse_query_csv,
    "topo -m": parse_topo_matrix,
    "nvlink -s": parse_nvlink_status,
}


@dataclass(frozen=True, slots=True)
class BundleSection:
    """One captured output: its phase ('idle', 'load', 'capabilities'), name, command, text."""

    phase: str
    name: str
    command: str | None
    text: str
    lineno: int  # line number of the first line of `text` in the bundle

    def parse(self) -> object:
        """The section parsed by its SECTION_PARSERS entry, or KeyError when it has none."""
        return SECTION_PARSERS[self.name](self.text)


@dataclass(frozen=True, slots=True)
class CaptureBundle:
    """A capture bundle: the header's key/values and the sections in order."""

    header: Mapping[str, str]
    sections: tuple[BundleSection, ...] = field(default=())

    def section(self, phase: str, name: str) -> BundleSection:
        """The section with this phase and name, or KeyError."""
        for section in self.sections:
            if section.phase == phase and section.name == name:
                return section
        raise KeyError(f"{phase} :: {name}")


def parse_capture_bundle(text: str) -> CaptureBundle:
    """Split a capture bundle into its header and sections (bodies are not parsed here)."""
    lines = require_lines(TOOL, text)
    header: dict[str, str] = {}
    sections: list[BundleSection] = []
    index = 0
    while index < len(lines):
        title = _TITLE.match(lines[index])
        if _FRAME.match(lines[index - 1] if index else "") and title:
            close = index + 1
            command: str | None = None
            while close < len(lines) and lines[close].startswith("# "):
                if command is None and (command_match := _COMMAND.match(lines[close])):
                    command = command_match.group("command")
                close += 1
            if close >= len(lines) or not _FRAME.match(lines[close]):
                line = lines[min(close, len(lines) - 1)]
                raise ParseError(TOOL, close + 1, line, "section title not closed by a '#' frame")
            end = close + 1
            while end < len(lines) and not _FRAME.match(lines[end]):
                end += 1
            body = lines[close + 1 : end]
            if len(body) >= 2 and body[-2:] == ["", ""]:
                body = body[:-2]  # the two blank lines that separate sections
            sections.append(
                BundleSection(
                    phase=title.group("phase"),
                    name=title.group("name"),
                    command=command,
                    text="".join(line + "\n" for line in body),
                    lineno=close + 2,
                )
            )
            index = end
            continue
        if not sections and (field_match := _HEADER_FIELD.match(lines[index])):
            header[field_match.group("key")] = field_match.group("value").strip()
        index += 1
    if not sections:
        raise ParseError(TOOL, *first_content(lines), "no '# <phase> :: <name>' section")
    return CaptureBundle(header=header, sections=tuple(sections))

"""`dcgmi diag -r N`: the result table, in the DCGM 1.x-3.x layout and the 4.x layout.

Each row is ``| name (25 wide) | info (45 wide) |``. A test row names the test and its result
("Pass", "Fail - All", "Pass - GPUs: 1, 2", ...); rows with an empty name continue it (more
results, or the 4.x "GPU0: Pass" lines); "Warning" / "Info" / "Error" rows carry messages that
DCGM wraps at 45 characters, which are joined back. Category separators
("+-----  Hardware  ----...") set the category of the tests below them.

Excerpts are read as they are: rows before any separator have category None, and continuation
text whose label row was cut becomes a message of kind None. A line of "..." (or "[...]") where
a paste left rows out is recorded in DiagReport.elided_lines and read past: it closes the message
it interrupts (the text after it is not glued onto the text before), and the rows after it keep
the category and test before it, since a paste most often elides more of the same list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bringup.parsers._text import first_content, is_elision, require_lines
from bringup.parsers.dcgmi.models import DiagMessage, DiagReport, DiagTest, worst
from bringup.parsers.errors import ParseError

TOOL = "dcgmi diag"

_BORDER = re.compile(r"^\+[-=]+\+[-=]+\+$")
_CATEGORY = re.compile(r"^[|+]-{3,}\s+(?P<name>[A-Za-z][\w ]*?)\s+-+\+-+[|+]$")
_RESULT = re.compile(
    r"^(?P<status>Pass|Fail|Warn|Skip)(?: - (?:(?P<all>All)|GPUs?: (?P<gpus>\d+(?:,\s*\d+)*)))?$"
)
_GPU_RESULT = re.compile(r"^GPU(?P<gpu>\d+): (?P<status>Pass|Fail|Warn|Skip)$")
_MESSAGE_LABEL = re.compile(r"^(?P<kind>Warning|Info|Error)(?::?\s*GPU\s*(?P<gpu>\d+))?$")
# No word boundary after the index: pastes glue the prefix to the text ("GPU 0GPU 0's NvLink").
_GPU_IN_TEXT = re.compile(r"^GPU ?(?P<gpu>\d+)")
_CHUNK = 45  # DCGM wraps message text at this width


@dataclass
class _Message:
    kind: str | None
    gpu: int | None
    chunks: list[str] = field(default_factory=list)

    def build(self) -> DiagMessage:
        text = "".join(self.chunks).strip()
        gpu = self.gpu
        if gpu is None and (found := _GPU_IN_TEXT.match(text)):
            gpu = int(found.group("gpu"))
        return DiagMessage(kind=self.kind, text=text, gpu=gpu)


@dataclass
class _Test:
    category: str | None
    name: str
    statuses: list[str] = field(default_factory=list)
    gpu_status: dict[int, str] = field(default_factory=dict)
    messages: list[_Message] = field(default_factory=list)

    def add_result(self, info: str) -> bool:
        """Record a result cell; False when `info` is not one."""
        found = _RESULT.match(info) or _GPU_RESULT.match(info)
        if found is None:
            return False
        status = found.group("status")
        groups = found.groupdict()
        if groups.get("gpu") is not None:
            self.gpu_status[int(groups["gpu"])] = status
        for gpu in (groups.get("gpus") or "").split(","):
            if gpu.strip():
                self.gpu_status[int(gpu)] = status
        self.statuses.append(status)
        return True

    def build(self) -> DiagTest:
        return DiagTest(
            category=self.category,
            name=self.name,
            status=worst(self.statuses + list(self.gpu_status.values())),
            gpu_status=dict(self.gpu_status),
            messages=tuple(message.build() for message in self.messages),
        )


def parse_diag_text(text: str) -> DiagReport:
    """Parse the table that `dcgmi diag -r N` prints.

    Lines before the table (the command, "Successfully ran diagnostic for group.") are
    skipped; anything but table lines and elision lines ("...") after it starts is a ParseError.
    """
    lines = require_lines(TOOL, text)
    category: str | None = None
    metadata: dict[str, str] = {}
    tests: list[_Test] = []
    orphans: list[_Message] = []
    message: _Message | None = None
    last_key: str | None = None
    elided: list[int] = []
    started = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if is_elision(line):
            elided.append(lineno)
            message, last_key = None, None
            continue
        if line[0] not in "|+":
            if started:
                raise ParseError(TOOL, lineno, line, "text inside the result table")
            continue
        started = True
        if _BORDER.match(line):
            continue
        if found := _CATEGORY.match(line):
            category, message, last_key = found.group("name"), None, None
            continue
        name, chunk = _cells(lineno, line)
        info = chunk.strip()
        if name == "Diagnostic" and info == "Result":
            continue
        if category is not None and category.lower() == "metadata":
            if name:  # a value fills the whole 46-character cell; only messages wrap at 45
                metadata[name], last_key = _whole_cell(line, info), name
            elif last_key is not None:
                metadata[last_key] += chunk.rstrip()
            continue
        current = tests[-1] if tests and tests[-1].category == category else None
        if label := _MESSAGE_LABEL.match(name):
            gpu = label.group("gpu")
            message = _Message(label.group("kind"), int(gpu) if gpu else None, [chunk])
            (current.messages if current is not None else orphans).append(message)
        elif name:
            message = None
            test = _Test(category, name)
            if not test.add_result(info):
                raise ParseError(TOOL, lineno, line, "not a diagnostic result")
            tests.append(test)
        elif message is not None and not (current is not None and _GPU_RESULT.match(info)):
            message.chunks.append(chunk)
        elif message is not None:  # a "GPUn: Pass" row after a message closes the message
            message = None
            assert current is not None
            current.add_result(info)
        elif current is not None and current.add_result(info):
            continue
        else:
            message = _Message(None, None, [chunk])
            orphans.append(message)
    if not started:
        raise ParseError(TOOL, *first_content(lines), "no dcgmi diag result table")
    return DiagReport(
        tests=tuple(test.build() for test in tests),
        metadata=metadata,
        messages=tuple(message.build() for message in orphans),
        elided_lines=tuple(elided),
    )


def _whole_cell(line: str, info: str) -> str:
    """The result cell of a table row, untruncated."""
    if len(line) >= 78 and line[77] == "|":
        return line[30:77].strip()
    return info


def _cells(lineno: int, line: str) -> tuple[str, str]:
    """The name cell (stripped) and the info cell (the raw 45-character chunk)."""
    if len(line) > 29 and line[28] == "|":
        name = line[1:28].strip()
        if len(line) >= 78 and line[77] == "|":
            return name, line[30 : 30 + _CHUNK]
        return name, line[30:].rstrip().removesuffix("|")
    cells = line.strip("|").split("|")
    if len(cells) != 2:
        raise ParseError(TOOL, lineno, line, "expected '| name | result |'")
    return cells[0].strip(), cells[1].strip()

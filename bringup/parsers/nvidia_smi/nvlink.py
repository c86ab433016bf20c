"""`nvidia-smi nvlink -s` / `nvidia-smi nvlink --status`: per GPU, per link, speed or inactive."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bringup.parsers._text import require_lines
from bringup.parsers.errors import ParseError

TOOL = "nvidia-smi nvlink -s"

_GPU = re.compile(r"^GPU (?P<index>\d+): (?P<name>.+?) \(UUID: (?P<uuid>[^)]+)\)$")
_LINK = re.compile(r"^Link (?P<link>\d+): (?P<state>.+)$")
_SPEED = re.compile(r"^(?P<speed>\d+(?:\.\d+)?) GB/s$")
_INACTIVE = frozenset({"inactive", "<inactive>"})


@dataclass(frozen=True, slots=True)
class NvlinkLink:
    """One NVLink of a GPU: its speed in GB/s, or None when inactive."""

    link: int
    speed_gbps: float | None
    state: str  # as printed: "26.562 GB/s", "<inactive>", ...

    @property
    def active(self) -> bool:
        """True when the link reports a speed."""
        return self.speed_gbps is not None


@dataclass(frozen=True, slots=True)
class NvlinkGpu:
    """One GPU's block of the status output."""

    index: int
    name: str
    uuid: str
    links: tuple[NvlinkLink, ...]
    note: str | None = None  # e.g. "Nvlink queries are not supported for Devices in MIG mode"

    @property
    def inactive_links(self) -> tuple[int, ...]:
        """Numbers of the links that report no speed."""
        return tuple(link.link for link in self.links if not link.active)


def parse_nvlink_status(text: str) -> tuple[NvlinkGpu, ...]:
    """Parse `nvidia-smi nvlink -s`: one NvlinkGpu per 'GPU n: name (UUID: ...)' block.

    >>> gpus = parse_nvlink_status("GPU 0: NVIDIA H100 (UUID: GPU-1)\\n\\t Link 0: <inactive>\\n")
    >>> gpus[0].inactive_links
    (0,)
    """
    blocks: list[tuple[re.Match[str], list[tuple[int, str]]]] = []
    for lineno, raw in enumerate(require_lines(TOOL, text), start=1):
        if not raw.strip():
            continue
        gpu = _GPU.match(raw.strip())
        if gpu:
            blocks.append((gpu, []))
        elif not blocks:
            raise ParseError(TOOL, lineno, raw, "expected 'GPU n: name (UUID: ...)'")
        else:
            blocks[-1][1].append((lineno, raw))
    return tuple(_gpu(gpu, body) for gpu, body in blocks)


def _gpu(gpu: re.Match[str], body: list[tuple[int, str]]) -> NvlinkGpu:
    links: list[NvlinkLink] = []
    notes: list[str] = []
    for lineno, raw in body:
        link = _LINK.match(raw.strip())
        if link is not None:
            links.append(_link(lineno, raw, int(link.group("link")), link.group("state").strip()))
        elif links:
            raise ParseError(TOOL, lineno, raw, "expected 'Link n: <speed> GB/s'")
        else:
            notes.append(raw.strip())
    return NvlinkGpu(
        index=int(gpu.group("index")),
        name=gpu.group("name"),
        uuid=gpu.group("uuid"),
        links=tuple(links),
        note=" ".join(notes) or None,
    )


def _link(lineno: int, raw: str, number: int, state: str) -> NvlinkLink:
    speed = _SPEED.match(state)
    if speed:
        return NvlinkLink(number, float(speed.group("speed")), state)
    if state.lower() in _INACTIVE:
        return NvlinkLink(number, None, state)
    raise ParseError(TOOL, lineno, raw, "link state is neither a speed nor inactive")

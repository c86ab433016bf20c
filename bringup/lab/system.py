"""Small typed wrappers over the host commands the lab uses (ip, nsenter, kill)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from bringup.errors import BringupError


class LabError(BringupError):
    """The lab cannot do what was asked; the message says what and why."""


def run(argv: Sequence[str], *, check: bool = True, input_text: str | None = None) -> str:
    """Run a command, return its stdout; LabError names the command and its stderr."""
    result = subprocess.run(
        list(argv), input=input_text, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def ip(*args: str, check: bool = True) -> str:
    """Run ``ip`` with `args`."""
    return run(["ip", *args], check=check)


def netns_list() -> list[str]:
    """Names of the network namespaces on the host."""
    out = ip("netns", "list", check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_pids(ns: str) -> list[int]:
    """Processes inside network namespace `ns`."""
    out = ip("netns", "pids", ns, check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def links(prefix: str = "") -> list[str]:
    """Host network interfaces whose name starts with `prefix`."""
    out = ip("-o", "link", "show", check=False)
    names = []
    for line in out.splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0]
        if name.startswith(prefix):
            names.append(name)
    return names


def kill(pids: Sequence[int], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to each pid that still exists."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def alive(pid: int | None) -> bool:
    """Whether process `pid` exists (and is not a zombie)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def in_node(
    anchor: int, argv: Sequence[str], *, check: bool = True, input_text: str | None = None
) -> str:
    """Run `argv` inside a node: its network, mount and UTS namespaces and its root."""
    return run(
        ["nsenter", "-t", str(anchor), "-n", "-m", "-u", "-r", "-w", *argv],
        check=check,
        input_text=input_text,
    )


def read_pid(path: Path) -> int | None:
    """The pid a pid file holds; None when it is missing, unreadable or not a number."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def tail(path: Path, lines: int = 5) -> str:
    """The last `lines` lines of a log on one line, for a message."""
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:]) or "no output"
    except OSError:
        return f"no {path.name}"


def processes() -> Iterator[tuple[int, str, list[bytes]]]:
    """Every process of this host: its pid, its program's file name and its arguments."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield int(entry.name), Path(argv[0].decode(errors="replace")).name, argv[1:]

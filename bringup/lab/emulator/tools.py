"""The registry of emulated commands: name -> function of (arguments, profile, environment)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import TYPE_CHECKING

from ._base import Env, ProfileError, Run, Tool, load_profile

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import Profile


def _lazy(module: str, function: str) -> Tool:
    """The tool `module.function`, imported when first called: a node runs one tool per
    process, and importing every tool's module would cost each call most of its start-up."""

    def tool(args: Sequence[str], profile: Profile, env: Env) -> Run:
        found: Tool = getattr(import_module(f".{module}", __package__), function)
        return found(args, profile, env)

    tool.__name__ = tool.__qualname__ = f"{module}.{function}"
    return tool


TOOLS: dict[str, Tool] = {
    "nvidia-smi": _lazy("nvidia_smi", "main"),
    "dcgmi": _lazy("dcgmi", "main"),
    "ibstat": _lazy("infiniband", "ibstat"),
    "ibstatus": _lazy("infiniband", "ibstatus"),
    "ibv_devinfo": _lazy("infiniband", "ibv_devinfo"),
    "perfquery": _lazy("infiniband", "perfquery"),
    "all_reduce_perf": _lazy("nccl_tests", "main"),
    "nvbandwidth": _lazy("nvbandwidth", "main"),
    "ib_write_bw": _lazy("perftest", "main"),
    "nvidia-imex-ctl": _lazy("imex_ctl", "main"),
    "openibd": _lazy("openibd", "main"),
}


def run_tool(name: str, args: Sequence[str], env: Env | None = None) -> Run:
    """Run tool `name` against the profile $BRINGUP_LAB_PROFILE points at."""
    environ: Mapping[str, str] = os.environ if env is None else env
    try:
        profile = load_profile(environ)
    except ProfileError as exc:
        return Run("", f"{exc}\n", 1)
    return TOOLS[name](list(args), profile, environ)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m emulator <tool> [args]`: run one emulated command, print, exit as it does."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in TOOLS:
        result = run_tool(args[0], args[1:])
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        sys.stdout.flush()
        return result.code
    from .daemons import DAEMONS  # only the long-running services need it
    from .daemons import run as run_daemon

    known = sorted([*TOOLS, *DAEMONS])
    if not args or args[0] not in known:
        sys.stderr.write(f"usage: python -m emulator <tool> [args]; tools: {', '.join(known)}\n")
        return 2
    try:
        profile = load_profile()
    except ProfileError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return run_daemon(args[0], args[1:], profile, os.environ)

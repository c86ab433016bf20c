"""The registry of emulated commands: name -> function of (arguments, profile, environment)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from . import dcgmi, imex_ctl, infiniband, nccl_tests, nvbandwidth, nvidia_smi, perftest
from ._base import Env, ProfileError, Run, Tool, load_profile
from .daemons import DAEMONS
from .daemons import run as run_daemon

TOOLS: dict[str, Tool] = {
    "nvidia-smi": nvidia_smi.main,
    "dcgmi": dcgmi.main,
    "ibstat": infiniband.ibstat,
    "ibstatus": infiniband.ibstatus,
    "ibv_devinfo": infiniband.ibv_devinfo,
    "perfquery": infiniband.perfquery,
    "all_reduce_perf": nccl_tests.main,
    "nvbandwidth": nvbandwidth.main,
    "ib_write_bw": perftest.main,
    "nvidia-imex-ctl": imex_ctl.main,
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
    known = sorted([*TOOLS, *DAEMONS])
    if not args or args[0] not in known:
        sys.stderr.write(f"usage: python -m emulator <tool> [args]; tools: {', '.join(known)}\n")
        return 2
    name, rest = args[0], args[1:]
    if name in DAEMONS:
        try:
            profile = load_profile()
        except ProfileError as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        return run_daemon(name, rest, profile, os.environ)
    result = run_tool(name, rest)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    sys.stdout.flush()
    return result.code

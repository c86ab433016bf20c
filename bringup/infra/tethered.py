"""Run a program tethered to its parent: when the parent dies, even by SIGKILL, it gets SIGTERM.

The engine's processes outlived a `bringup up` killed in the middle: the Pulumi CLI went on
holding the stack's lock, and its dynamic-provider processes (`python -m pulumi.dynamic`) were
left running under PID 1. The engine runs its CLI and its providers through this module, which
asks the kernel (prctl PR_SET_PDEATHSIG, Linux) to send SIGTERM when the parent goes, then
becomes the program. The Pulumi CLI takes SIGTERM as a cancellation: it stops starting steps,
saves its state and releases the lock.

    python -m bringup.infra.tethered PROGRAM [ARG...]       exec PROGRAM, tethered
    python -m bringup.infra.tethered --module MOD [ARG...]  run a Python module, tethered
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def tether() -> None:
    """Ask for SIGTERM when this process's parent dies; exit at once if it is already gone."""
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return  # not Linux, or refused: run untethered rather than not at all
    if os.getppid() != parent:  # the parent died before the tether was tied
        sys.exit(143)


def main(argv: list[str]) -> None:
    """Tether this process, then become the program (or run the module) of `argv`."""
    if not argv:
        sys.exit("usage: python -m bringup.infra.tethered PROGRAM [ARG...] | --module MOD")
    tether()
    if argv[0] == "--module":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])

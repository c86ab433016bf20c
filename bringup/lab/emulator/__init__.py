"""The lab's emulated diagnostic tools: nvidia-smi, dcgmi, the InfiniBand diags, the benchmarks.

Each tool reads the node's hardware profile (written by bringup.lab.profile.node_profile in the
shape .hardware declares; the path is $BRINGUP_LAB_PROFILE, default
/var/lib/bringup-lab/profile.json) and prints exactly what the real tool prints (see
fixtures/real/), with its exit status. Standard library only and relative imports only: the
package is shipped in the lab's `bringup-lab-emulator` .deb and run on the nodes as
``PYTHONPATH=/usr/lib/bringup-lab python3 -m emulator <tool> [args]``.

>>> from bringup.lab.emulator import TOOLS
>>> sorted(TOOLS)[:3]
['all_reduce_perf', 'dcgmi', 'ib_write_bw']
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the type checker sees; at run time, __getattr__ below
    from ._base import Run, load_profile
    from .daemons import DAEMONS
    from .hardware import Profile
    from .tools import TOOLS, main, run_tool
    from .xid import xid_line

# Exports resolved on first use: `python3 -m emulator <tool>` imports this package for every
# tool call on a node, and each module it does not need is start-up time of that call.
_EXPORTS = {
    "DAEMONS": ".daemons",
    "TOOLS": ".tools",
    "Profile": ".hardware",
    "Run": "._base",
    "load_profile": "._base",
    "main": ".tools",
    "run_tool": ".tools",
    "xid_line": ".xid",
}

__all__ = ["DAEMONS", "TOOLS", "Profile", "Run", "load_profile", "main", "run_tool", "xid_line"]


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

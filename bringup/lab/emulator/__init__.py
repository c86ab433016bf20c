"""The lab's emulated diagnostic tools: nvidia-smi, dcgmi, the InfiniBand diags, the benchmarks.

Each tool reads the node's hardware profile (bringup.lab.profile.node_profile; the path is
$BRINGUP_LAB_PROFILE, default /var/lib/bringup-lab/profile.json) and prints exactly what the
real tool prints (see fixtures/real/), with its exit status. Standard library only and relative
imports only: the package is shipped in the lab's `bringup-lab-emulator` .deb and run on the
nodes as ``PYTHONPATH=/usr/lib/bringup-lab python3 -m emulator <tool> [args]``.

>>> from bringup.lab.emulator import TOOLS
>>> sorted(TOOLS)[:3]
['all_reduce_perf', 'dcgmi', 'ib_write_bw']
"""

from __future__ import annotations

from ._base import Run, load_profile
from .daemons import DAEMONS
from .tools import TOOLS, main, run_tool
from .xid import xid_line

__all__ = ["DAEMONS", "TOOLS", "Run", "load_profile", "main", "run_tool", "xid_line"]

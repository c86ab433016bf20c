"""InfiniBand / RDMA diagnostics: ibstat, ibstatus, ibv_devinfo and perfquery."""

from bringup.parsers.infiniband.ibstat import IbCa, IbPort, IbstatReport, parse_ibstat
from bringup.parsers.infiniband.ibstatus import IbstatusPort, parse_ibstatus
from bringup.parsers.infiniband.ibv_devinfo import IbvDevice, IbvPort, parse_ibv_devinfo
from bringup.parsers.infiniband.perfquery import ERROR_COUNTERS, PerfqueryBlock, parse_perfquery

__all__ = [
    "ERROR_COUNTERS",
    "IbCa",
    "IbPort",
    "IbstatReport",
    "IbstatusPort",
    "IbvDevice",
    "IbvPort",
    "PerfqueryBlock",
    "parse_ibstat",
    "parse_ibstatus",
    "parse_ibv_devinfo",
    "parse_perfquery",
]

"""dcgmi outputs: `diag` as a table or as JSON, and `nvlink --link-status`."""

from bringup.parsers.dcgmi.diag_json import parse_diag_json
from bringup.parsers.dcgmi.diag_text import parse_diag_text
from bringup.parsers.dcgmi.models import DiagMessage, DiagReport, DiagTest
from bringup.parsers.dcgmi.nvlink import NvlinkLinkStatus, parse_dcgmi_nvlink_status

__all__ = [
    "DiagMessage",
    "DiagReport",
    "DiagTest",
    "NvlinkLinkStatus",
    "parse_dcgmi_nvlink_status",
    "parse_diag_json",
    "parse_diag_text",
]

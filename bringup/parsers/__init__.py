"""Parsers of GPU and network diagnostic output: text in, frozen dataclasses out.

Pure functions with no I/O: the caller runs the tool (or reads a capture) and passes the text.
Input a parser cannot read raises ParseError naming the tool, the line number and the text.
PARSERS maps each format's name (the `tool` a ParseError names) to its parse function.

>>> PARSERS["ibstat"]("CA 'mlx5_0'\\n\\tCA type: MT4129\\n").cas[0].ca_type
'MT4129'
"""

from collections.abc import Callable, Mapping

from bringup.parsers import fabricmanager, imex, nccl_tests, nvbandwidth, perftest, xid
from bringup.parsers.dcgmi import diag_json, diag_text
from bringup.parsers.dcgmi import nvlink as dcgmi_nvlink
from bringup.parsers.errors import ParseError
from bringup.parsers.infiniband import ibstat, ibstatus, ibv_devinfo, perfquery
from bringup.parsers.nvidia_smi import bundle, query, query_csv, table, topo, xml_report
from bringup.parsers.nvidia_smi import nvlink as smi_nvlink

PARSERS: Mapping[str, Callable[[str], object]] = {
    query.TOOL: query.parse_query,
    xml_report.TOOL: xml_report.parse_query_xml,
    query_csv.TOOL: query_csv.parse_query_csv,
    table.TOOL: table.parse_table,
    smi_nvlink.TOOL: smi_nvlink.parse_nvlink_status,
    topo.TOOL: topo.parse_topo_matrix,
    bundle.TOOL: bundle.parse_capture_bundle,
    diag_text.TOOL: diag_text.parse_diag_text,
    diag_json.TOOL: diag_json.parse_diag_json,
    dcgmi_nvlink.TOOL: dcgmi_nvlink.parse_dcgmi_nvlink_status,
    ibstat.TOOL: ibstat.parse_ibstat,
    ibstatus.TOOL: ibstatus.parse_ibstatus,
    ibv_devinfo.TOOL: ibv_devinfo.parse_ibv_devinfo,
    perfquery.TOOL: perfquery.parse_perfquery,
    nccl_tests.TOOL: nccl_tests.parse_nccl_tests,
    perftest.TOOL: perftest.parse_perftest,
    nvbandwidth.TOOL: nvbandwidth.parse_nvbandwidth,
    xid.TOOL: xid.parse_xid_log,
    fabricmanager.TOOL: fabricmanager.parse_fabricmanager_log,
    imex.TOOL: imex.parse_imex_log,
    imex.CTL_TOOL: imex.parse_imex_node_status,
}

__all__ = ["PARSERS", "ParseError"]

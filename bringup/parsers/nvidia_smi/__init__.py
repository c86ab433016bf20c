"""nvidia-smi outputs: -q (text and XML), --query-* CSV, the default table, nvlink -s, topo -m.

One module per output format; this package re-exports their parse functions and models.
"""

from bringup.parsers.nvidia_smi.bundle import (
    SECTION_PARSERS,
    BundleSection,
    CaptureBundle,
    parse_capture_bundle,
)
from bringup.parsers.nvidia_smi.models import (
    Clocks,
    EccCounts,
    EccErrors,
    Fabric,
    GpuInfo,
    GpuProcess,
    NvidiaSmiReport,
    PcieLink,
    Power,
    RemappedRows,
    RetiredPages,
    Temperatures,
)
from bringup.parsers.nvidia_smi.nvlink import NvlinkGpu, NvlinkLink, parse_nvlink_status
from bringup.parsers.nvidia_smi.query import parse_query
from bringup.parsers.nvidia_smi.query_csv import (
    QueryCsv,
    csv_int,
    csv_missing,
    csv_number,
    parse_query_csv,
)
from bringup.parsers.nvidia_smi.table import (
    SmiTable,
    TableGpu,
    TableMigDevice,
    TableProcess,
    parse_table,
)
from bringup.parsers.nvidia_smi.topo import TopoMatrix, TopoRow, parse_topo_matrix
from bringup.parsers.nvidia_smi.xml_report import parse_query_xml

__all__ = [
    "SECTION_PARSERS",
    "BundleSection",
    "CaptureBundle",
    "Clocks",
    "EccCounts",
    "EccErrors",
    "Fabric",
    "GpuInfo",
    "GpuProcess",
    "NvidiaSmiReport",
    "NvlinkGpu",
    "NvlinkLink",
    "PcieLink",
    "Power",
    "QueryCsv",
    "RemappedRows",
    "RetiredPages",
    "SmiTable",
    "TableGpu",
    "TableMigDevice",
    "TableProcess",
    "Temperatures",
    "TopoMatrix",
    "TopoRow",
    "csv_int",
    "csv_missing",
    "csv_number",
    "parse_capture_bundle",
    "parse_nvlink_status",
    "parse_query",
    "parse_query_csv",
    "parse_query_xml",
    "parse_table",
    "parse_topo_matrix",
]

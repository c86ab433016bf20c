"""Every real capture under fixtures/real, and every field-shape capture under
tests/fixtures/field, is claimed by exactly one parser and parses.

Adding a fixture without a claim here fails test_fixture_is_claimed_once_and_parses (or
test_field_capture_is_claimed_once_and_parses).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fnmatch import fnmatchcase

import pytest

from bringup.parsers.dcgmi import (
    DiagReport,
    NvlinkLinkStatus,
    parse_dcgmi_nvlink_status,
    parse_diag_text,
)
from bringup.parsers.fabricmanager import FabricManagerLog, parse_fabricmanager_log
from bringup.parsers.imex import ImexLog, parse_imex_log
from bringup.parsers.infiniband import (
    IbstatReport,
    parse_ibstat,
    parse_ibstatus,
    parse_ibv_devinfo,
    parse_perfquery,
)
from bringup.parsers.nccl_tests import NcclTestsResult, parse_nccl_tests
from bringup.parsers.nvidia_smi import (
    CaptureBundle,
    NvidiaSmiReport,
    QueryCsv,
    SmiTable,
    TopoMatrix,
    parse_capture_bundle,
    parse_nvlink_status,
    parse_query,
    parse_query_csv,
    parse_query_xml,
    parse_table,
    parse_topo_matrix,
)
from bringup.parsers.perftest import PerftestResult, parse_perftest
from bringup.parsers.xid import parse_xid_log

from .conftest import FIELD, REAL, field, field_files, real, real_files

# Pattern (relative to fixtures/real) -> the parser that reads it and the type it returns;
# parsers that return a tuple must return a non-empty one for a real capture.
CLAIMS: tuple[tuple[str, Callable[[str], object], type], ...] = (
    ("nvidia-smi-q/*.txt", parse_query, NvidiaSmiReport),
    ("nvidia-smi-xml/*.xml", parse_query_xml, NvidiaSmiReport),
    ("nvidia-smi-query-csv/*.csv", parse_query_csv, QueryCsv),
    ("nvidia-smi-table/*.txt", parse_table, SmiTable),
    ("nvidia-smi-nvlink/*.txt", parse_nvlink_status, tuple),
    ("nvidia-smi-topo/*.txt", parse_topo_matrix, TopoMatrix),
    ("nvidia-smi-bundles/*.txt", parse_capture_bundle, CaptureBundle),
    ("dcgmi-diag/dcgmi-diag*.txt", parse_diag_text, DiagReport),
    ("dcgmi-diag/dcgmi-nvlink-*.txt", parse_dcgmi_nvlink_status, NvlinkLinkStatus),
    ("fabricmanager/*.log", parse_fabricmanager_log, FabricManagerLog),
    ("imex/nvidia-imex_*.log", parse_imex_log, ImexLog),
    ("infiniband/ibstat/*.txt", parse_ibstat, IbstatReport),
    ("infiniband/ibstatus/*.txt", parse_ibstatus, tuple),
    ("infiniband/ibv_devinfo/*.txt", parse_ibv_devinfo, tuple),
    ("infiniband/perfquery/*.txt", parse_perfquery, tuple),
    ("nccl-tests/*.txt", parse_nccl_tests, NcclTestsResult),
    ("perftest/*.txt", parse_perftest, PerftestResult),
    ("xid/*.log", parse_xid_log, tuple),
)

# Files under fixtures/real that are not tool output.
NOT_TOOL_OUTPUT = frozenset({"PROVENANCE.md"})

FIXTURES = [name for name in real_files() if name not in NOT_TOOL_OUTPUT]


def test_the_shared_fixtures_are_there() -> None:
    assert REAL.is_dir(), f"expected the real fixtures at {REAL.resolve()}"
    assert len(FIXTURES) >= 77  # as of this writing; more may come, fewer means loss
    assert set(real_files()) - set(FIXTURES) == NOT_TOOL_OUTPUT


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_is_claimed_once_and_parses(name: str) -> None:
    claims = [(parse, kind) for pattern, parse, kind in CLAIMS if fnmatchcase(name, pattern)]
    assert len(claims) == 1, f"{name} is claimed by {len(claims)} parsers, want exactly 1"
    parse, kind = claims[0]
    result = parse(real(name))
    assert isinstance(result, kind)
    if isinstance(result, tuple):
        assert len(result) > 0, f"{name} parsed to nothing"


@pytest.mark.parametrize("pattern", [pattern for pattern, _, _ in CLAIMS])
def test_every_claim_matches_a_fixture(pattern: str) -> None:
    assert any(fnmatchcase(name, pattern) for name in FIXTURES), f"{pattern} claims nothing"


def test_every_fixture_has_its_provenance() -> None:
    documented = set(re.findall(r"^### `([^`]+)`$", real("PROVENANCE.md"), flags=re.MULTILINE))
    assert set(FIXTURES) == documented


# Pattern (relative to tests/fixtures/field) -> the parser that reads it and the type it returns.
FIELD_CLAIMS: tuple[tuple[str, Callable[[str], object], type], ...] = (
    ("dcgmi-diag/*.txt", parse_diag_text, DiagReport),
    ("nccl-tests/*.txt", parse_nccl_tests, NcclTestsResult),
    ("xid/*.log", parse_xid_log, tuple),
)

FIELD_CAPTURES = [name for name in field_files() if name != "README.md"]


def test_the_field_captures_are_there() -> None:
    assert FIELD.is_dir(), f"expected the field-shape captures at {FIELD}"
    assert len(FIELD_CAPTURES) >= 5  # as of this writing; fewer means loss


@pytest.mark.parametrize("name", FIELD_CAPTURES)
def test_field_capture_is_claimed_once_and_parses(name: str) -> None:
    claims = [(parse, kind) for pattern, parse, kind in FIELD_CLAIMS if fnmatchcase(name, pattern)]
    assert len(claims) == 1, f"{name} is claimed by {len(claims)} parsers, want exactly 1"
    parse, kind = claims[0]
    result = parse(field(name))
    assert isinstance(result, kind)
    if isinstance(result, tuple):
        assert len(result) > 0, f"{name} parsed to nothing"


def test_every_field_capture_is_described_in_its_readme() -> None:
    described = set(re.findall(r"^### `([^`]+)`$", field("README.md"), flags=re.MULTILINE))
    assert set(FIELD_CAPTURES) == described

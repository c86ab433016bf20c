"""nvidia-smi topo -m: real 8-GPU (tabs and spaces) and single-GPU (ANSI escapes) captures."""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvidia_smi import parse_topo_matrix

from .conftest import real

DELLA = "nvidia-smi-topo/h100_x8_6nic_topo-m_princeton-della-pli_UNIDENTIFIED-REPO.txt"


def test_eight_gpus_six_nics_with_nic_legend() -> None:
    matrix = parse_topo_matrix(real(DELLA))
    assert matrix.gpus == tuple(f"GPU{i}" for i in range(8))
    assert len(matrix.devices) == 14
    assert matrix.link("GPU0", "GPU7") == "NV18"
    assert matrix.link("GPU0", "GPU0") == "X"
    assert matrix.link("GPU0", "NIC0") == "PIX"
    assert matrix.link("GPU6", "NIC5") == "PIX"
    assert matrix.link("NIC3", "NIC4") == "PIX"
    assert matrix.nics == {f"NIC{i}": f"mlx5_{i}" for i in range(6)}
    assert matrix.legend["NV#"] == "Connection traversing a bonded set of # NVLinks"


def test_empty_cpu_affinity_quirk_and_gpu_numa_id() -> None:
    rows = parse_topo_matrix(real(DELLA)).rows
    assert rows["GPU0"].cpu_affinity is None  # printed empty on this system
    assert (rows["GPU0"].numa_affinity, rows["GPU0"].gpu_numa_id) == ("0", "N/A")
    assert (rows["GPU4"].cpu_affinity, rows["GPU4"].numa_affinity) == ("1", "1")
    assert rows["NIC0"].numa_affinity is None


def test_space_separated_paste() -> None:
    matrix = parse_topo_matrix(real("nvidia-smi-topo/h100_x8_topo-m_ml-engineering.txt"))
    assert matrix.devices == tuple(f"GPU{i}" for i in range(8))
    assert matrix.rows["GPU3"].cpu_affinity == "0-51,104-155"
    assert (matrix.rows["GPU4"].cpu_affinity, matrix.rows["GPU4"].numa_affinity) == (
        "52-103,156-207",
        "1",
    )
    assert {matrix.link("GPU2", other) for other in matrix.gpus if other != "GPU2"} == {"NV18"}
    assert matrix.legend == {}


@pytest.mark.parametrize(
    ("name", "cpus"),
    [
        ("nvidia-smi-topo/h100-80gb-hbm3_590.48.01_1gpu_topo-m.txt", "0-19"),
        ("nvidia-smi-topo/h200_590.48.01_1gpu_topo-m.txt", "0-23"),
    ],
)
def test_single_gpu_with_terminal_escapes(name: str, cpus: str) -> None:
    matrix = parse_topo_matrix(real(name))
    assert matrix.devices == ("GPU0",)
    row = matrix.rows["GPU0"]
    assert (row.cpu_affinity, row.numa_affinity, row.gpu_numa_id) == (cpus, "0", "N/A")
    assert len(matrix.legend) == 7


def test_a_missing_row_is_a_parse_error() -> None:
    text = "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNV18\t0-51\n"
    with pytest.raises(ParseError, match="no row for GPU1"):
        parse_topo_matrix(text)


def test_a_short_row_names_its_line() -> None:
    text = "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNV18\t0-51\nGPU1\tNV18\n"
    with pytest.raises(ParseError, match="2 link types") as raised:
        parse_topo_matrix(text)
    assert raised.value.lineno == 3


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="GPUn/NICn") as raised:
        parse_topo_matrix("\n\nnot a topology\n")
    assert raised.value.lineno == 3

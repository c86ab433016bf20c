"""One vocabulary of check ids: every judge is a known check, every check is judged and tested."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bringup.validation.checks import CHECKS, check_id
from bringup.validation.judge import JUDGES
from bringup.validation.judges import burn_in  # noqa: F401  (registers every judge)

SUITE = Path(__file__).resolve().parents[2] / "validation"


def suite_checks() -> dict[str, str]:
    """check id -> suite module that judges it (from `judge_node("<id>", ...)` calls)."""
    found: dict[str, str] = {}
    for path in sorted(SUITE.glob("test_*.py")):
        for check in re.findall(r'judge_node\("([a-z_.0-9]+)"', path.read_text()):
            found[check] = path.stem
    return found


def test_every_check_has_a_judge_and_a_test() -> None:
    assert set(JUDGES) == set(CHECKS)
    assert set(suite_checks()) == set(CHECKS)


def test_checks_sit_in_the_module_of_their_concern() -> None:
    modules = {"gpu": "test_gpu", "nvlink": "test_nvlink", "nic": "test_fabric",
               "software": "test_software", "storage": "test_storage",
               "burn_in": "test_burn_in"}  # fmt: skip
    for check, module in suite_checks().items():
        assert module == modules[check.split(".")[0]], check


def test_ids_are_short_dotted_names() -> None:
    assert all(re.fullmatch(r"[a-z_]+\.[a-z_0-9]+", c) for c in CHECKS)


def test_unknown_check_is_refused() -> None:
    with pytest.raises(KeyError, match=r"gpu\.ecc_uncorrected"):
        check_id("gpu.ecc")

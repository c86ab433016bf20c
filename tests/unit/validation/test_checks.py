"""One vocabulary of check ids: every suite check is judged and run, every judge a known check."""

from __future__ import annotations

import re

import pytest

from bringup.validation.checks import SUITE_CONCERNS, Check, Concern
from bringup.validation.judge import Judges, merge
from bringup.validation.judges import JUDGES
from bringup.workspace import REPOSITORY

SUITE = REPOSITORY / "tests" / "validation"


def test_every_suite_check_has_a_judge_and_no_judge_is_unknown() -> None:
    assert set(JUDGES) == {c for c in Check if c.concern in SUITE_CONCERNS}


@pytest.mark.parametrize("concern", SUITE_CONCERNS, ids=str)
def test_each_concern_has_a_suite_module_that_runs_its_checks(concern: Concern) -> None:
    module = SUITE / f"test_{concern}.py"
    text = module.read_text(encoding="utf-8")
    assert f"Check.of(Concern.{concern.name})" in text
    assert Check.of(concern), concern


def test_ids_are_short_dotted_names_with_a_description() -> None:
    for check in Check:
        assert re.fullmatch(r"[a-z_]+\.[a-z_0-9]+", check.value), check
        assert check.description, check
        assert check.description == check.description.strip(), check


def test_admission_checks_are_not_run_by_the_suite() -> None:
    added = set(Check.of(Concern.ADMISSION))
    assert {Check.NODE_REACHABLE, Check.CABLE_CONTINUITY, Check.DOMAIN_UNIT} <= added
    assert not added & set(JUDGES)


def test_an_unknown_check_id_is_refused() -> None:
    with pytest.raises(ValueError, match=r"gpu\.ecc"):
        Check("gpu.ecc")  # type: ignore[call-arg]
    assert Check.known("gpu.ecc") is None
    assert Check.known("gpu.ecc_uncorrected") is Check.GPU_ECC_UNCORRECTED


def test_a_check_judged_twice_is_refused() -> None:
    first, second = Judges(), Judges()
    first.of(Check.GPU_MODEL)(lambda node: [])
    second.of(Check.GPU_MODEL)(lambda node: [])
    with pytest.raises(ValueError, match=r"gpu\.model"):
        merge(first, second)
    with pytest.raises(ValueError, match="judged twice"):
        first.of(Check.GPU_MODEL)(lambda node: [])

"""Golden files: `bringup plan --format json` and the cabling CSV of the lab and gb200-su stacks.

After an intended change, regenerate with ``BRINGUP_UPDATE_GOLDEN=1 pytest tests/unit/plan`` and
read the diff: every changed line is a change users will see.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from bringup.plan import make_plan, summary, write_cabling_csv
from bringup.spec import load_cluster

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("BRINGUP_UPDATE_GOLDEN") == "1"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with BRINGUP_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


@pytest.mark.parametrize("stack", ["lab", "gb200-su"])
def test_plan_json_matches_golden(stack: str) -> None:
    plan = make_plan(load_cluster(ROOT / "stacks" / f"Pulumi.{stack}.yaml"))
    _check(f"{stack}.plan.json", json.dumps(summary(plan), indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("stack", ["lab", "gb200-su"])
def test_cabling_csv_matches_golden(stack: str) -> None:
    plan = make_plan(load_cluster(ROOT / "stacks" / f"Pulumi.{stack}.yaml"))
    out = io.StringIO()
    write_cabling_csv(plan, out)
    _check(f"{stack}.cabling.csv", out.getvalue())

"""The repair-times file admission writes and the suite reads: a round trip, and each way it can
be wrong named with the file, the node and the value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bringup.validation.repaired import RepairedError, read_repaired, write_repaired

MOMENT = datetime(2026, 11, 25, 4, 0, 0, 123456, tzinfo=UTC)


def test_the_times_cross_as_written_in_utc(tmp_path: Path) -> None:
    east = MOMENT.astimezone(timezone(timedelta(hours=2)))
    path = write_repaired(tmp_path / "deep" / "repaired.json", {"n2": east, "n1": MOMENT})
    assert json.loads(path.read_text()) == {
        "n1": "2026-11-25T04:00:00.123456+00:00",
        "n2": "2026-11-25T04:00:00.123456+00:00",
    }
    read = read_repaired(path)
    assert read == {"n1": MOMENT, "n2": MOMENT}
    assert all(moment.tzinfo == UTC for moment in read.values())


def test_a_time_without_its_zone_is_not_written(tmp_path: Path) -> None:
    with pytest.raises(RepairedError, match=r"^n1: repair time 2026-11-25T04:00:00 has no time"):
        write_repaired(tmp_path / "r.json", {"n1": datetime(2026, 11, 25, 4)})
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not a readable JSON file"),
        ('["n1"]', "expected an object of node -> repair time, got a list"),
        ('{"n1": "2026-11-25T04:00:00"}', "n1: repair time '2026-11-25T04:00:00': expected ISO"),
        ('{"n1": "yesterday"}', "n1: repair time 'yesterday': expected ISO-8601 with its zone"),
        ('{"n1": 1800000000}', "n1: repair time 1800000000: expected ISO-8601"),
    ],
)
def test_a_wrong_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(RepairedError) as raised:
        read_repaired(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RepairedError, match="not a readable JSON file"):
        read_repaired(tmp_path / "absent.json")

"""Each node's record of what it was converged to, and which nodes it shows to be stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from bringup.access import Access
from bringup.provision.markers import Record, _parse, read_records, stale

EXPECTED = {"n1": "v1:r1", "n2": "v1:r1", "n3": "v1:r1", "n4": "v1:r1", "n5": "v1:r1"}


def test_stale_names_each_node_that_does_not_hold_what_it_was_converged_to() -> None:
    records = {
        "n1": Record("v1:r1", "m1", "m1"),  # as converged
        "n2": Record(None, None, "m2"),  # recreated, re-imaged: no record
        "n3": Record("v1:r1", "m3", "m9"),  # the record of another machine (a cloned image)
        "n4": Record("v0:r1", "m4", "m4"),  # converged to other variables
        "n5": Record(None, None, None, reachable=False, message="Connection refused"),
    }
    assert stale(records, EXPECTED) == {
        "n2": "no record of a converge on the node",
        "n3": "another machine than the one converged (re-imaged or replaced)",
        "n4": "converged to other variables or roles",
        "n5": "unreachable (Connection refused)",
    }
    assert stale({}, EXPECTED) == {}  # nothing read: nothing claimed either way


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('{"inputs": "a:b", "machine": "m"}\n', ("a:b", "m")),
        ("", (None, None)),
        ("not json", (None, None)),
        ('["a:b"]', (None, None)),
        ('{"inputs": 3, "machine": null}', (None, None)),
    ],
)
def test_a_record_is_read_or_taken_as_absent(text: str, parsed: tuple[str | None, ...]) -> None:
    assert _parse(text) == parsed


def test_a_node_that_refuses_the_connection_is_unreachable(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  Port 1\n")  # nothing listens there
    found = read_records({"gone": "127.0.0.1"}, Access(ssh_config=config))
    assert found["gone"].reachable is False
    assert "refused" in found["gone"].message.lower()
    assert stale(found, {"gone": "v1:r1"}) == {"gone": f"unreachable ({found['gone'].message})"}

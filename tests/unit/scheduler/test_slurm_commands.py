"""The Slurm adapter without a Slurm: its reading of scontrol's JSON, its hostlists, its errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bringup.access import SchedulerAccess
from bringup.scheduler.adapter import SchedulerError
from bringup.scheduler.slurm import SlurmScheduler, hostlists, node_state, parse_nodes


def shown(*nodes: tuple[str, list[str], str], errors: tuple[str, ...] = ()) -> str:
    """scontrol --json show node, as 24.11 prints it (the fields the adapter reads)."""
    listed = [{"name": n, "state": s, "reason": r, "cpus": 1} for n, s, r in nodes]
    described = [{"description": e, "source": "slurm_load_node"} for e in errors]
    return json.dumps({"nodes": listed, "errors": described, "warnings": []})


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        (["IDLE"], "idle"),
        (["IDLE", "DRAIN"], "drained"),
        (["MIXED", "DRAIN"], "draining"),
        (["ALLOCATED", "DRAIN"], "draining"),
        (["IDLE", "DRAIN", "COMPLETING"], "draining"),
        (["DOWN", "DRAIN", "NOT_RESPONDING"], "drained*"),
        (["IDLE", "NOT_RESPONDING"], "idle*"),
        (["DOWN"], "down"),
        (["FUTURE"], "future"),
        ([], "unknown"),
    ],
)
def test_state_flags_read_as_sinfo_words(flags: list[str], state: str) -> None:
    assert node_state(flags) == state


def test_ownership_is_the_drain_flag_and_the_reason_together() -> None:
    nodes = parse_nodes(
        shown(
            ("n1", ["IDLE", "DRAIN"], "bringup: unreachable (run r)"),
            ("n2", ["IDLE", "DRAIN"], "hw ticket 123"),
            ("n3", ["IDLE"], "bringup: unreachable (run r)"),  # resumed: the reason stays
            ("n4", ["MIXED"], ""),
        )
    )
    assert [(n.held, n.owned, n.by_operator) for n in nodes.values()] == [
        (True, True, False),
        (True, False, True),
        (False, False, False),
        (False, False, False),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "printed no node list: ''"),
        ('{"meta": {}}', "printed no node list"),
        (shown(errors=("Invalid node name specified",)), "reported: Invalid node name specified"),
    ],
)
def test_an_answer_without_nodes_is_a_scheduler_error(text: str, message: str) -> None:
    with pytest.raises(SchedulerError, match=message):
        parse_nodes(text)


def test_hostlists_compress_runs_and_sort_numbers_naturally() -> None:
    assert list(hostlists(["n10", "n2", "n1", "n2", "b-x"])) == ["b-x,n[1-2,10]"]
    assert list(hostlists([])) == []


def test_a_fleet_is_a_handful_of_hostlists_each_within_the_limit() -> None:
    fleet = [f"gb200-r{r:03d}-t{t:02d}" for r in range(1, 1390) for t in range(1, 19)]
    pieces = list(hostlists(fleet))
    assert len(fleet) == 25002
    assert len(pieces) == 1
    assert len(pieces[0]) < 32 * 1024
    scattered = random.Random(7).sample(
        [f"host-{i:x}-{i * 7919 % 10007}" for i in range(30000)], 25000
    )
    pieces = list(hostlists(scattered, limit=64 * 1024))
    assert all(len(p) <= 64 * 1024 for p in pieces)
    assert 5 <= len(pieces) <= 16
    assert sum(len(p.split(",")) for p in pieces) == 25000  # none of these compress


def test_a_missing_scontrol_is_said_plainly(tmp_path: Path) -> None:
    slurm = SlurmScheduler(SchedulerAccess(adapter="slurm", bin_dir=tmp_path))
    with pytest.raises(
        SchedulerError, match=rf"`scontrol --json show node n1`: no scontrol in {tmp_path}"
    ):
        slurm.nodes(["n1"])


def test_a_failing_scontrol_is_named_with_what_it_printed(tmp_path: Path) -> None:
    fake = tmp_path / "scontrol"
    fake.write_text(
        '#!/bin/sh\necho "slurm_load_node error: Unable to contact slurm controller" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    slurm = SlurmScheduler(
        SchedulerAccess(adapter="slurm", bin_dir=tmp_path, env={"SLURM_CONF": "/x"})
    )
    with pytest.raises(SchedulerError) as raised:
        slurm.release(["n1"])
    assert raised.value.lines() == [
        "slurm: `scontrol --json show node n1` failed (exit 1): "
        "slurm_load_node error: Unable to contact slurm controller"
    ]


def test_the_tools_run_in_the_access_environment(tmp_path: Path) -> None:
    fake = tmp_path / "scontrol"
    answer = '{"nodes": [{"name": "%s", "state": ["IDLE"], "reason": ""}]}'
    fake.write_text(f"#!/bin/sh\nprintf '{answer}' \"$SLURM_CONF\"\n")  # names the node it read
    fake.chmod(0o755)
    access = SchedulerAccess(adapter="slurm", bin_dir=tmp_path, env={"SLURM_CONF": "n1"})
    assert list(SlurmScheduler(access).nodes(["n1", "n2"])) == ["n1"]

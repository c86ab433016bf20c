"""The report's data: states, tallies, failing cables, capacity over time, drills, from a real
ledger of the lab and from histories written here."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bringup.report.model import (
    History,
    LedgerRead,
    Report,
    SchedulerRead,
    build_report,
    capacity_chart,
    failing_cables,
    shown_state,
)
from bringup.report.sources import ReportError, read_drills, read_scheduler
from bringup.scheduler.adapter import SchedulerError, SchedulerNode
from bringup.scheduler.none import NoScheduler
from bringup.validation.report import Finding

from .lab_ledger import (
    ADMITTED,
    FAILING,
    GPU_FINDING,
    MADE,
    NIC,
    NIC_FINDING,
    PLAN,
    QUARANTINED,
    STACK,
    UNREACHABLE,
    XID_FINDING,
    report_of,
    seed,
)


def seeded(project: Path) -> Report:
    seed(project)
    return report_of(project)


def test_every_planned_node_is_shown_once_in_the_state_the_ledger_gives_it(
    tmp_path: Path,
) -> None:
    report = seeded(tmp_path)
    states = {v.name: v.state for v in report.nodes}
    assert [v.name for v in report.nodes] == [n.name for n in PLAN.nodes]
    assert states[ADMITTED] == "admitted"
    assert states[QUARANTINED] == "quarantined"
    assert states[FAILING] == "quarantined"  # admitted, then failed in service
    assert states[UNREACHABLE] == "unreachable"
    assert sum(1 for s in states.values() if s == "pending") == len(PLAN.nodes) - 4
    assert [shown_state(s) for s in ("repaired", "revalidated", "burn-in", None)] == [
        "repaired",
        "repaired",
        "pending",
        "pending",
    ]


def test_a_node_carries_its_findings_and_its_open_incident(tmp_path: Path) -> None:
    report = seeded(tmp_path)
    views = {v.name: v for v in report.nodes}
    assert views[QUARANTINED].findings == (GPU_FINDING, NIC_FINDING)
    assert views[QUARANTINED].failing == (GPU_FINDING, NIC_FINDING)
    assert views[QUARANTINED].incident is None
    failing = views[FAILING]
    assert failing.incident is not None
    assert failing.incident.status == "open"
    assert failing.failing == (XID_FINDING,)  # the incident's, not the admitting verdict's
    assert views[ADMITTED].failing == ()


def test_tallies_count_nodes_and_gpus_per_sku_and_state(tmp_path: Path) -> None:
    report = seeded(tmp_path)
    tallies = {t.sku: t for t in report.tallies}
    assert sorted(tallies) == ["cpu", "gb200-nvl72", "hgx-h100"]
    h100 = tallies["hgx-h100"]  # nodes 1 and 2: admitted, quarantined
    assert dict(h100.nodes) == {
        "admitted": 1, "quarantined": 1, "unreachable": 0, "repaired": 0, "pending": 0,
    }  # fmt: skip
    assert h100.gpus["admitted"] == 8
    assert h100.planned_gpus == 16
    gb200 = tallies["gb200-nvl72"]  # trays 1 and 2: failing in service, unreachable
    assert gb200.nodes["quarantined"] == 1
    assert gb200.nodes["unreachable"] == 1
    assert gb200.nodes["pending"] == 16
    assert gb200.gpus["quarantined"] == 4
    assert report.gpus("admitted") == 8
    assert report.gpus() == PLAN.gpus
    assert report.count("pending") == len(PLAN.nodes) - 4


def test_racks_stand_in_their_rows_with_their_nodes_and_tors(tmp_path: Path) -> None:
    report = seeded(tmp_path)
    assert [(r.hall, r.row) for r in report.rows] == [(1, 1)]
    assert [r.name for r in report.racks] == [r.name for r in PLAN.racks]
    nvl72 = report.racks[1]
    assert [v.name for v in nvl72.nodes] == [n.name for n in PLAN.nodes_in(nvl72.name)]
    assert nvl72.tors == (f"oob-{nvl72.name}-tor1",)
    assert nvl72.worst == "quarantined"
    assert report.racks[2].worst == "pending"


def test_the_cable_of_a_failing_nic_is_found_in_the_plan(tmp_path: Path) -> None:
    (cable,) = seeded(tmp_path).failing_cables
    assert (cable.node, cable.device, cable.cable) == (QUARANTINED, NIC.device, NIC.cable)
    assert (cable.fabric, cable.plane, cable.rail) == ("compute", 1, 2)
    assert (cable.leaf, cable.leaf_port) == (NIC.leaf, str(NIC.leaf_port))
    assert cable.check == "nic.carrier"


def test_a_cable_the_plan_does_not_have_is_kept_with_what_the_finding_says(
    tmp_path: Path,
) -> None:
    report = seeded(tmp_path)
    view = next(v for v in report.nodes if v.name == QUARANTINED)
    stale = {**NIC_FINDING.attributes, "cable": "gone-node:mlx5_0/1", "leaf": "old-leaf"}
    finding = Finding(NIC_FINDING.component, "nic.state", "Down", "Active", "", stale)
    (cable,) = failing_cables(PLAN, [replace(view, findings=(finding,))])
    assert (cable.fabric, cable.leaf, cable.cable) == ("", "old-leaf", "gone-node:mlx5_0/1")


def test_admitted_capacity_follows_each_nodes_moves_in_and_out_of_admitted() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    h100, tray = PLAN.nodes[0].name, PLAN.nodes[2].name
    histories: dict[str, History] = {
        h100: [
            (t0, "provisioned", None, ""),
            (t0 + timedelta(hours=1), "admitted", "r1", ""),
            (t0 + timedelta(hours=3), "quarantined", None, "gpu"),
            (t0 + timedelta(hours=5), "repaired", None, "swapped"),
            (t0 + timedelta(hours=6), "admitted", "r2", ""),
        ],
        tray: [(t0 + timedelta(hours=2), "admitted", "r1", "")],
        "not-in-the-plan": [(t0, "admitted", "r0", "")],
    }
    gpus = {"hgx-h100": 8, "gb200-nvl72": 4, "cpu": 0}
    chart = capacity_chart(histories, PLAN, gpus, t0 + timedelta(hours=7))
    assert chart.skus == ("gb200-nvl72", "hgx-h100")  # the CPU SKU has no GPUs to admit
    assert [(int((at - t0).total_seconds() // 3600), v) for at, v in chart.points] == [
        (1, (0, 8)),
        (2, (4, 8)),
        (3, (4, 0)),
        (6, (4, 8)),
        (7, (4, 8)),
    ]
    assert not chart.sampled


def test_a_long_history_is_sampled_to_a_few_hundred_points_ending_now() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    nodes = [n.name for n in PLAN.nodes if n.sku == "gb200-nvl72"]
    histories = {
        name: [
            (t0 + timedelta(minutes=100 * k + i), state, None, "")
            for k in range(30)
            for state in ("admitted", "quarantined")
        ]
        for i, name in enumerate(nodes)
    }
    until = t0 + timedelta(days=10)
    chart = capacity_chart(histories, PLAN, {"gb200-nvl72": 4}, until)
    assert chart.sampled
    assert len(chart.points) == 400
    assert chart.points[-1] == (until, (0,))
    assert max(v[0] for _, v in chart.points) <= 4 * len(nodes)
    assert [at for at, _ in chart.points] == sorted(at for at, _ in chart.points)


def test_the_scheduler_is_read_or_said_not_to_be() -> None:
    class Broken(NoScheduler):
        name, drives = "slurm", True

        def nodes(self, names: object) -> dict[str, SchedulerNode]:
            raise SchedulerError("sinfo: Unable to contact slurm controller")

    class Answering(Broken):
        def nodes(self, names: object) -> dict[str, SchedulerNode]:
            return {ADMITTED: SchedulerNode(ADMITTED, "drained", True, "hw ticket 4711")}

    broken = read_scheduler(Broken(), [ADMITTED])
    assert not broken.read
    assert broken.error == "sinfo: Unable to contact slurm controller"
    assert broken.describe(ADMITTED) == ""
    answering = read_scheduler(Answering(), [ADMITTED, QUARANTINED])
    assert answering.describe(ADMITTED) == "drained: hw ticket 4711"
    assert answering.describe(QUARANTINED) == "not in the scheduler"
    assert not read_scheduler(NoScheduler(), [ADMITTED]).read


def test_drills_are_read_from_their_folder_and_a_bad_one_is_named(tmp_path: Path) -> None:
    assert read_drills(tmp_path / "none") == []
    (tmp_path / "20260301T120000-xid.json").write_text(
        '{"fault": "xid", "node": "n1", "component": "gpu:n1/0", "check": "gpu.xid", '
        '"incident": 7, "seconds_fault_to_drain": 12.5, "seconds_fault_to_running": null, '
        '"steps_redone": 3, "job_completed": true, "job": "41"}'
    )
    (drill,) = read_drills(tmp_path)
    assert (drill.name, drill.fault, drill.incident, drill.seconds_fault_to_running) == (
        "20260301T120000-xid",
        "xid",
        7,
        None,
    )
    bad = tmp_path / "20260302T120000-cable-cut.json"
    bad.write_text('{"node": "n1"}')
    with pytest.raises(ReportError, match=rf"drill summary {bad}: fault: Field required"):
        read_drills(tmp_path)


def test_an_unread_ledger_shows_every_node_pending() -> None:
    empty = LedgerRead("nowhere", [], {}, [])
    report = build_report(PLAN, STACK, empty, SchedulerRead("none"), [], MADE, Path("/"))
    assert {v.state for v in report.nodes} == {"pending"}
    assert report.capacity.points == ((MADE, (0, 0)),)
    assert report.failing_cables == ()
    assert report.incidents == ()

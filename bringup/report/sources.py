"""Where the report's facts come from: the ledger, the scheduler, the kept drill summaries.

Each reader takes the object or folder it reads, handed in by the command line, and returns
plain data for `model.build_report`. A scheduler that cannot be read is said in the report,
never a reason to fail it: the report is most wanted when something is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from bringup.admit.ledger import Ledger
from bringup.errors import BringupError
from bringup.report.model import Drill, LedgerRead, SchedulerRead
from bringup.scheduler.adapter import SchedulerAdapter, SchedulerError


class ReportError(BringupError):
    """Something the report is made of that cannot be read: a drill summary."""


def read_ledger(ledger: Ledger, stack: str, location: str) -> LedgerRead:
    """The stack's node states with their history, its incidents and its runs."""
    statuses = ledger.status(stack)
    histories = ledger.histories(stack)
    return LedgerRead(
        location=location,
        statuses=statuses,
        histories={s.node: histories.get(s.node, []) for s in statuses},
        incidents=ledger.incidents(stack),
        runs=ledger.runs(stack),
    )


def read_scheduler(adapter: SchedulerAdapter, names: Sequence[str]) -> SchedulerRead:
    """How the scheduler sees `names`; a scheduler that does not answer is said, not raised."""
    if not adapter.drives:
        return SchedulerRead(adapter.name)
    try:
        return SchedulerRead(adapter.name, adapter.nodes(names))
    except SchedulerError as error:
        return SchedulerRead(adapter.name, error=" ".join(error.lines()))


class _DrillFile(BaseModel):
    """The fields the report shows of a drill summary; the others are left."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    fault: str
    node: str = ""
    component: str | None = None
    check: str | None = None
    incident: int | None = None
    seconds_fault_to_drain: float | None = None
    seconds_fault_to_running: float | None = None
    steps_redone: int | None = None
    job_completed: bool = False


def read_drills(folder: Path) -> list[Drill]:
    """The drill summaries kept in `folder` (`<time>-<fault>.json`), by name; none when the
    folder does not exist. ReportError names a file that is not a summary."""
    if not folder.is_dir():
        return []
    drills = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = _DrillFile.model_validate_json(path.read_bytes())
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "the file"
            raise ReportError(
                f"drill summary {path}: {where}: {problem['msg']} "
                "(a summary as `bringup lab drill` prints it expected)"
            ) from None
        except OSError as error:
            raise ReportError(f"drill summary {path}: {error.strerror}") from None
        drills.append(
            Drill(
                name=path.stem,
                fault=data.fault,
                node=data.node,
                component=data.component or "",
                check=data.check or "",
                incident=data.incident,
                seconds_fault_to_drain=data.seconds_fault_to_drain,
                seconds_fault_to_running=data.seconds_fault_to_running,
                steps_redone=data.steps_redone,
                job_completed=data.job_completed,
            )
        )
    return drills

"""The judges of every concern, one module each, merged into one table: check -> Judge.

>>> from bringup.validation.checks import SUITE_CONCERNS, Check
>>> set(JUDGES) == {c for concern in SUITE_CONCERNS for c in Check.of(concern)}
True
"""

from collections.abc import Mapping

from bringup.validation.checks import Check
from bringup.validation.judge import Judge, merge
from bringup.validation.judges import burn_in, fabric, gpu, nvlink, software, storage
from bringup.validation.node import Node
from bringup.validation.report import Finding

JUDGES: Mapping[Check, Judge] = merge(
    gpu.judges, nvlink.judges, fabric.judges, software.judges, storage.judges, burn_in.judges
)


def run_judge(check: Check, node: Node) -> list[Finding]:
    """The findings of `check` on `node` (none where the check does not apply)."""
    return JUDGES[check](node)


__all__ = ["JUDGES", "run_judge"]

"""Judges: the function of a Node that says what is wrong with it for one check.

A judge is pure: it reads the node's expectation and collected outputs (and burn-in files) and
returns one Finding per bad component, all of them, so a failure lists every bad GPU or port at
once. A judge that cannot read what it needs (a tool failed, an output is missing) returns a
finding on the node instead of raising: the report still says which check and why.

Each concern module of bringup/validation/judges keeps its judges in a :class:`Judges`
registry; the package merges them into one table (``bringup.validation.judges.JUDGES``).

>>> judges = Judges()
>>> @judges.of(Check.GPU_MODEL, when=HAS_GPUS)
... def model(node): return []
>>> judges.table[Check.GPU_MODEL].when.reason
'no GPUs planned'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bringup.plan import NodeExpectation
from bringup.validation.checks import Check
from bringup.validation.node import Node, NodeProblem
from bringup.validation.report import Finding

JudgeFunction = Callable[[Node], list[Finding]]


@dataclass(frozen=True)
class Applies:
    """Whether a check applies to a node at all, and why not when it does not."""

    reason: str
    test: Callable[[NodeExpectation], bool]


HAS_GPUS = Applies("no GPUs planned", lambda e: e.gpu_count > 0)
HAS_NVLINK = Applies("no NVLink planned", lambda e: e.links_per_gpu > 0)
HAS_NICS = Applies("no NICs planned", lambda e: bool(e.nics))
HAS_IPOIB = Applies("no IPoIB mode planned", lambda e: any(n.ipoib_mode for n in e.nics))
BURNED_IN = Applies("not burned in (no GPUs)", lambda e: e.gpu_count > 0)
"""Burn-in runs on the GPU nodes (playbooks/burn_in.yml: hgx, nvl72), so only they have
outputs to judge."""


@dataclass(frozen=True)
class Judge:
    """The judge of one check: where it applies, whether it reads burn-in outputs."""

    check: Check
    function: JudgeFunction
    when: Applies | None = None
    burn_in: bool = False

    def skip_reason(self, node: Node) -> str | None:
        """Why the check does not run on `node`, or None when it does."""
        if self.burn_in and node.burn_in_dir is None:
            return "no --bringup-burn-in folder given"
        if self.when is not None and not self.when.test(node.expected):
            return f"{node.name}: {self.when.reason}"
        return None

    def __call__(self, node: Node) -> list[Finding]:
        """The findings of this check on `node` (none where it does not apply)."""
        if self.skip_reason(node) is not None:
            return []
        try:
            return self.function(node)
        except NodeProblem as problem:
            return [node.problem(self.check, problem)]


@dataclass
class Judges:
    """The judges of one concern, registered with :meth:`of`."""

    table: dict[Check, Judge] = field(default_factory=dict)

    def of(
        self, check: Check, *, when: Applies | None = None, burn_in: bool = False
    ) -> Callable[[JudgeFunction], JudgeFunction]:
        """Register the decorated function as the judge of `check`."""

        def register(function: JudgeFunction) -> JudgeFunction:
            if check in self.table:
                raise ValueError(f"check {check}: judged twice")
            self.table[check] = Judge(check, function, when, burn_in)
            return function

        return register


def merge(*registries: Judges) -> Mapping[Check, Judge]:
    """One table of every registry's judges; a check judged twice is an error."""
    table: dict[Check, Judge] = {}
    for registry in registries:
        twice = sorted(set(table) & set(registry.table))
        if twice:
            raise ValueError(f"checks judged twice: {', '.join(twice)}")
        table.update(registry.table)
    return table

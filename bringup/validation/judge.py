"""The registry of judges: check id -> function of a Node that returns its findings.

A judge is pure: it reads the node's expectations and collected outputs (and burn-in files)
and returns one Finding per bad component, all of them, so a failure lists every bad GPU or
port at once. A judge that cannot read what it needs (a tool failed, an output is missing)
returns a finding on the node instead of raising: the report still says which check and why.

>>> from bringup.validation import judges
>>> "gpu.ecc_uncorrected" in JUDGES
True
"""

from __future__ import annotations

from collections.abc import Callable

from bringup.admit.findings import Finding
from bringup.validation.checks import check_id
from bringup.validation.expected import Expected
from bringup.validation.node import Node, NodeProblem

Judge = Callable[[Node], list[Finding]]


def has_gpus(expected: Expected) -> bool:
    """The plan puts GPUs in this node."""
    return expected.gpu_count > 0


def burned_in(expected: Expected) -> bool:
    """Burn-in runs on the GPU nodes (playbooks/burn_in.yml: hgx, nvl72), so only they have
    outputs to judge."""
    return has_gpus(expected)


def has_nvlink(expected: Expected) -> bool:
    """The plan gives this node's GPUs NVLinks."""
    return bool(expected.nvlink.get("links_per_gpu"))


JUDGES: dict[str, Judge] = {}


def judge(
    check: str, *, when: Callable[[Expected], bool] | None = None
) -> Callable[[Judge], Judge]:
    """Register `fn` as the judge of `check` (an id of CHECKS); `when` says whether the check
    applies to a node at all (no GPU check on a CPU node): where it does not, no findings."""
    check_id(check)

    def register(fn: Judge) -> Judge:
        def guarded(node: Node) -> list[Finding]:
            if when is not None and not when(node.expected):
                return []
            try:
                return fn(node)
            except NodeProblem as problem:
                return [node.problem(check, problem)]

        guarded.__doc__ = fn.__doc__
        guarded.__name__ = fn.__name__
        JUDGES[check] = guarded
        return guarded

    return register


def run_judge(check: str, node: Node) -> list[Finding]:
    """The findings of `check` on `node` (importing every judge module first)."""
    from bringup.validation import judges  # noqa: F401  (registers the judges)

    return JUDGES[check](node)

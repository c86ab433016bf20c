"""The result of a DCGM diagnostic (`dcgmi diag`), shared by the table and the JSON parser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STATUSES = ("Pass", "Skip", "Warn", "Fail")  # in order of severity
_SEVERITY = {status: rank for rank, status in enumerate(STATUSES)}


def worst(statuses: list[str]) -> str | None:
    """The most severe of some statuses (Fail > Warn > Skip > Pass), None for none."""
    known = [status for status in statuses if status in _SEVERITY]
    return max(known, key=_SEVERITY.__getitem__) if known else None


@dataclass(frozen=True, slots=True)
class DiagMessage:
    """A Warning, Info or Error line that DCGM printed with a test."""

    kind: str | None  # "Warning", "Info", "Error"; None where an excerpt cut the label off
    text: str
    gpu: int | None = None
    error_id: int | None = None  # DCGM_FR_* code, JSON output only


@dataclass(frozen=True, slots=True)
class DiagTest:
    """One test (plugin) of the diagnostic, with its result per GPU where DCGM gives one."""

    category: str | None  # "Deployment", "Hardware", "Integration", "Stress"; None if cut
    name: str
    status: str | None  # worst over the GPUs: "Pass", "Skip", "Warn", "Fail"
    gpu_status: Mapping[int, str] = field(default_factory=dict)
    messages: tuple[DiagMessage, ...] = ()

    @property
    def failed(self) -> bool:
        """True when the test failed on any GPU."""
        return self.status == "Fail" or "Fail" in self.gpu_status.values()

    @property
    def failed_gpus(self) -> tuple[int, ...]:
        """The GPUs on which this test failed, when DCGM names them."""
        return tuple(sorted(gpu for gpu, status in self.gpu_status.items() if status == "Fail"))


@dataclass(frozen=True, slots=True)
class DiagReport:
    """A whole `dcgmi diag` run."""

    tests: tuple[DiagTest, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)  # "DCGM Version", ...
    messages: tuple[DiagMessage, ...] = ()  # printed outside any test row (excerpts)
    runtime_error: str | None = None  # the diagnostic could not run at all (JSON output)
    elided_lines: tuple[int, ...] = ()  # line numbers of "..." lines: a paste left rows out

    @property
    def elided(self) -> bool:
        """True when the text had rows left out ("..."): a test not listed proves nothing."""
        return bool(self.elided_lines)

    @property
    def failed(self) -> bool:
        """True when a test failed, an Error was printed, or the run itself failed."""
        errors = [m for m in self.all_messages() if m.kind == "Error"]
        return bool(self.runtime_error or errors or any(test.failed for test in self.tests))

    def all_messages(self) -> tuple[DiagMessage, ...]:
        """Every message, those of the tests and those printed outside them."""
        return self.messages + tuple(m for test in self.tests for m in test.messages)

    def test(self, name: str) -> DiagTest:
        """The test of this name (case-insensitive), or KeyError."""
        for test in self.tests:
            if test.name.lower() == name.lower():
                return test
        raise KeyError(name)

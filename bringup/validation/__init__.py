"""Node validation: the support code of the product's suite in tests/validation.

The flow of one run: the plugin (`plugin`) finds the hosts testinfra was given, loads each
one's expectation from its rendered host_vars (`expected`, into the plan's NodeExpectation),
collects every raw tool output with one remote command per host, all hosts at once (`collect`),
and hands each test a `Node` (`node`) whose outputs are parsed on first use. Each test runs the
judge of one check id (`checks.Check`; `judges.JUDGES`), which returns findings that name the
component; the plugin writes them into the report (`report`) that admission reads.
`run.run_suite` runs the suite in a subprocess the way users do.
"""

from bringup.validation.checks import Check, Concern
from bringup.validation.report import Finding, HostReport
from bringup.validation.run import run_suite

__all__ = ["Check", "Concern", "Finding", "HostReport", "run_suite"]

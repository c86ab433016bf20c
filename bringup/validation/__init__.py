"""Node validation: the support code of the product's suite in tests/validation.

The flow of one run: the plugin (`plugin`) finds the hosts testinfra was given, reads each
one's expectations from its rendered host_vars (`expected`), collects every raw tool output
with one remote command per host, all hosts at once (`collect`), and hands each test a `Node`
(`node`) whose outputs are parsed on first use. Each test runs one judge (`judges/`, registered
in `judge.JUDGES` under a check id of `checks.CHECKS`), which returns findings that name the
component; the plugin writes them into the report admission reads. `run.run_suite` runs the
suite in a subprocess the way users do.
"""

from bringup.validation.checks import CHECKS
from bringup.validation.run import run_suite

__all__ = ["CHECKS", "run_suite"]

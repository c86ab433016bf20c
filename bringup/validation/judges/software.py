"""Software checks: the planned packages at their pinned versions and held; DCGM running.

Components: ``package:<host>/<name>`` and ``service:<host>/nvidia-dcgm``. The packages and
versions are the plan's (software.packages in host_vars), which the catalog pinned per SKU.
"""

from __future__ import annotations

from bringup.validation.checks import Check
from bringup.validation.collect import service_section
from bringup.validation.judge import Judges
from bringup.validation.node import Node
from bringup.validation.report import Finding

judges = Judges()


@judges.of(Check.SOFTWARE_PACKAGE)
def package(node: Node) -> list[Finding]:
    """Each planned package installed ('ii') at its pinned version."""
    found = []
    for pkg in node.expected.packages:
        name, want = pkg.name, pkg.version
        version, status = node.packages.get(name, ("", "not installed"))
        # db:Status-Abbrev: desired action, then state ('i' installed), e.g. "ii", "hi" (held)
        if status[1:2] != "i" or version != want:
            observed = f"{version} ({status})" if version else "not installed"
            found.append(node.finding(f"package:/{name}", Check.SOFTWARE_PACKAGE, observed, want))
    return found


@judges.of(Check.SOFTWARE_HOLD)
def hold(node: Node) -> list[Finding]:
    """Each package the plan holds is on hold (no upgrade moves it off its pin)."""
    return [
        node.finding(f"package:/{pkg.name}", Check.SOFTWARE_HOLD, "not held", "held")
        for pkg in node.expected.packages
        if pkg.hold and pkg.name not in node.holds
    ]


@judges.of(Check.SOFTWARE_DCGM)
def dcgm(node: Node) -> list[Finding]:
    """The DCGM host engine (nvidia-dcgm) running."""
    if "nvidia-dcgm" not in node.expected.services:
        return []
    name = service_section("nvidia-dcgm")
    rc = node.outputs.rc(name)
    if rc == 0:
        return []
    return [
        node.finding(
            "service:/nvidia-dcgm",
            Check.SOFTWARE_DCGM,
            f"not running (status exit {rc})",
            "running",
            evidence=node.outputs.text(name),
        )
    ]

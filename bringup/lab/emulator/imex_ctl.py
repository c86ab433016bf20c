"""`nvidia-imex-ctl -N` (the IMEX domain's status) and `-q` (the local daemon's).

No capture of nvidia-imex-ctl is in fixtures/real. -N follows NVIDIA's IMEX guide and the output
published with it (the connectivity legend, the stamp, 'Node #N   - <ip>  - READY  - Version:
<major.minor>', the From\\To matrix, 'Domain State: UP'); -q prints the daemon's state ('READY').
A peer is UNAVAILABLE when nvlink_domain.imex_peers lists it as {"address": ..., "state":
"UNAVAILABLE"} or nvlink_domain.unavailable_peers names it; its row and column show 'I' and the
domain is DEGRADED. The text for a daemon that is not running is not documented: the lab prints
a connection error on stderr and exits 1, as a refused TCP connection to the command service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._base import Env, Run, driver_version, now, service_state

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import Profile

LEGEND = """Connectivity Table Legend:
I - Invalid - Node wasn't reachable, no connection status available
N - Never Connected
R - Recovering - Connection was lost, but clean up has not yet been triggered.
D - Disconnected - Connection was lost, and clean up has been triggreed.
A - Authenticating - If GSSAPI enabled, client has initiated mutual authentication.
!V! - Version mismatch, communication disabled.
!M! - Node map mismatch, communication disabled.
C - Connected - Ready for operation
"""
CONNECT_ERROR = (
    "Failed to connect to the IMEX daemon command service at 127.0.0.1:50005: Connection refused\n"
)


def peers(profile: Profile) -> list[tuple[str, str]]:
    """(address, state) of every node of the IMEX domain, in the nodes_config order."""
    domain = profile.get("nvlink_domain")
    if not domain:
        return []
    down = set(domain.get("unavailable_peers") or [])
    result = []
    for peer in domain.get("imex_peers") or []:
        if isinstance(peer, str):
            address, state = peer, "READY"
        else:
            address, state = peer["address"], peer.get("state") or "READY"
        result.append((address, "UNAVAILABLE" if address in down else state))
    return result


def main(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """Run `nvidia-imex-ctl args`."""
    if service_state(profile, "nvidia-imex") != "running":
        return Run("", CONNECT_ERROR, 1)
    if "-q" in args:
        return Run("READY\n")
    if "-N" not in args and "-n" not in args:
        return Run(
            "",
            "Usage: nvidia-imex-ctl [-i <IP> <PORT>|-u <unix domain socket path>|"
            "-c <nvidia-imex config.cfg path>] <-n|-N|-q|-s|-d|-m> [-t <timeout>]\n",
            1,
        )
    return Run(domain_status(profile, env))


def domain_status(profile: Profile, env: Env) -> str:
    """The -N report."""
    stamp = now(env)
    version = ".".join(driver_version(profile).split(".")[:2])
    nodes = peers(profile)
    lines = [
        LEGEND,
        f"{stamp.month}/{stamp.day}/{stamp.year} {stamp:%H:%M:%S}.{stamp.microsecond // 1000:03d}",
        "Nodes:",
    ]
    for i, (address, state) in enumerate(nodes):
        shown = f"Version: {version}" if state == "READY" else "Version: N/A"
        lines.append(f"Node #{i:<3d} - {address:<15} - {state:<20} - {shown}")
    lines.append("")
    lines.append(" Nodes From\\To  " + "".join(f"{j:<4d}" for j in range(len(nodes))).rstrip())
    for i, (_, state) in enumerate(nodes):
        cells = ["C" if state == other == "READY" else "I" for _, other in nodes]
        lines.append(f"{i:>8d}        " + "   ".join(cells))
    lines.append("")
    ready = all(state == "READY" for _, state in nodes)
    lines.append(f"Domain State: {'UP' if ready else 'DEGRADED'}")
    return "\n".join(lines) + "\n"

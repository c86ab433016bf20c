"""The Slurm adapter: nodes read, drained and resumed through Slurm's own client, scontrol.

Three commands do everything, each on a hostlist rather than a node at a time (25,000 nodes are a
handful of commands, not 25,000): ``scontrol --json show node <hostlist>`` reads state, flags and
reason in one call (unknown names are left out of its answer, not refused);
``scontrol update NodeName=<hostlist> State=DRAIN Reason="…"`` holds a group of nodes with one
reason; ``State=RESUME`` lifts. A hostlist is cut into pieces that keep each argument far below
the kernel's limit on one argument (MAX_ARG_STRLEN, 128 KiB) and a command below ARG_MAX.

Ownership is judged on the DRAIN flag and the reason together: Slurm 24.11 keeps a resumed node's
old reason, so a reason alone says nothing. The parsing is apart from the commands, so that it is
tested with data alone.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence

from bringup.access import SchedulerAccess
from bringup.plan.scheduler import hostlist
from bringup.scheduler.adapter import OwnedHolds, SchedulerError, SchedulerNode

HOSTLIST_LIMIT = 32 * 1024
"""The longest hostlist one command gets, in characters."""

TIMEOUT_S = 120.0
"""How long one scontrol may take: it gives up on an unreachable controller in about 10 s."""

BASE_STATES = frozenset({"IDLE", "ALLOCATED", "MIXED", "DOWN", "ERROR", "FUTURE", "UNKNOWN"})
BUSY = frozenset({"ALLOCATED", "MIXED"})


class SlurmScheduler(OwnedHolds):
    """Slurm, driven with scontrol as the Access says (its folder, its environment).

    >>> SlurmScheduler(SchedulerAccess.slurm()).describe()
    'slurm (scontrol, the system slurm.conf)'
    """

    name = "slurm"

    def __init__(self, access: SchedulerAccess, *, timeout: float = TIMEOUT_S) -> None:
        self.access = access
        self.timeout = timeout

    def describe(self) -> str:
        """Which scontrol and slurm.conf this adapter uses."""
        conf = self.access.env.get("SLURM_CONF")
        return f"slurm ({self.program()}, {conf or 'the system slurm.conf'})"

    def nodes(self, names: Sequence[str]) -> dict[str, SchedulerNode]:
        """The nodes of `names` Slurm knows, read with one call per hostlist piece."""
        found: dict[str, SchedulerNode] = {}
        for piece in hostlists(names):
            command = ["--json", "show", "node", piece]
            found |= parse_nodes(self._scontrol(command), self._shown(command))
        return {n: found[n] for n in dict.fromkeys(names) if n in found}

    def _drain(self, reason: str, names: Sequence[str]) -> None:
        # scontrol drops one leading and one trailing double quote of a reason: quoting it
        # keeps a reason that ends with a quote as it is
        for piece in hostlists(names):
            self._scontrol(["update", f"NodeName={piece}", "State=DRAIN", f'Reason="{reason}"'])

    def _resume(self, names: Sequence[str]) -> None:
        for piece in hostlists(names):
            self._scontrol(["update", f"NodeName={piece}", "State=RESUME"])

    def program(self, name: str = "scontrol") -> str:
        """A Slurm client tool as the Access reaches it: in its folder, else on PATH."""
        folder = self.access.bin_dir
        return name if folder is None else str(folder / name)

    def scontrol(self, *args: str) -> str:
        """scontrol's output; SchedulerError naming the command and what it printed."""
        return self._scontrol(list(args))

    def _shown(self, args: Sequence[str]) -> str:
        """The command as a message shows it, a long hostlist shortened."""
        text = " ".join(["scontrol", *args])
        return text if len(text) <= 200 else text[:197] + "..."

    def _scontrol(self, args: Sequence[str]) -> str:
        """scontrol's output; SchedulerError naming the command and what it printed."""
        env = {**os.environ, **self.access.env}
        shown = self._shown(args)
        try:
            done = subprocess.run(
                [self.program(), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            where = self.access.bin_dir or f"PATH ({env.get('PATH', '')})"
            raise SchedulerError(f"slurm: `{shown}`: no scontrol in {where}") from None
        except subprocess.TimeoutExpired:
            raise SchedulerError(
                f"slurm: `{shown}` did not answer in {self.timeout:.0f} s"
            ) from None
        except OSError as error:
            raise SchedulerError(f"slurm: `{shown}`: {error}") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.split()) or " ".join(done.stdout.split())[:500]
            raise SchedulerError(
                f"slurm: `{shown}` failed (exit {done.returncode}): {said or 'no message'}"
            )
        return done.stdout


def parse_nodes(text: str, command: str = "scontrol --json show node") -> dict[str, SchedulerNode]:
    """The nodes of scontrol's (or sinfo's data_parser) JSON; SchedulerError for anything else."""
    try:
        data = json.loads(text)
        errors = [str(e.get("description") or e) for e in data.get("errors") or ()]
        listed = data["nodes"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SchedulerError(f"slurm: `{command}` printed no node list: {text[:200]!r}") from None
    if errors:
        raise SchedulerError(f"slurm: `{command}` reported: {'; '.join(errors)}")
    nodes: dict[str, SchedulerNode] = {}
    for entry in listed:
        flags = [str(f).upper() for f in entry.get("state") or ()]
        name = str(entry["name"])
        held = "DRAIN" in flags
        nodes[name] = SchedulerNode(name, node_state(flags), held, str(entry.get("reason") or ""))
    return nodes


def node_state(flags: Sequence[str]) -> str:
    """sinfo's short word for a node's state flags: ``idle``, ``drained``, ``draining``,
    ``mixed``, ``down*``…"""
    base = next((f for f in flags if f in BASE_STATES), "UNKNOWN")
    if "DRAIN" in flags:
        busy = base in BUSY or "COMPLETING" in flags
        word = "draining" if busy else "drained"
    else:
        word = base.lower()
    return word + ("*" if "NOT_RESPONDING" in flags else "")


def hostlists(names: Sequence[str], limit: int = HOSTLIST_LIMIT) -> Iterator[str]:
    """`names` as Slurm hostlists of at most `limit` characters (a longer name alone as is)."""
    ordered = sorted(dict.fromkeys(names), key=_natural)
    if not ordered:
        return
    text = hostlist(ordered)
    if len(text) <= limit or len(ordered) == 1:
        yield text
        return
    half = len(ordered) // 2
    yield from hostlists(ordered[:half], limit)
    yield from hostlists(ordered[half:], limit)


def _natural(name: str) -> tuple[str, int, int]:
    """Sorts n2 before n10, so that runs of numbers compress into ranges."""
    prefix = name.rstrip("0123456789")
    digits = name[len(prefix) :]
    return prefix, len(digits), int(digits) if digits else -1

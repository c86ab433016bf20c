"""When each node being revalidated was repaired: what admission tells the suite.

A GPU reset without a reboot leaves its Xids in the kernel log, and the Xid checks would fail
the repaired node for as long as they stay in the window (or, for Xid 79, until a reboot). So
admission writes, for the nodes it revalidates, the time of each one's latest repair mark, and
the suite (``--bringup-repaired=FILE``) gives it to the Xid checks, which ignore what the driver
logged before it. The file is one JSON object, node -> ISO-8601 time with its zone::

    {"lab-h1-r01-k01-n1": "2026-11-25T04:00:00.000000+00:00"}

>>> moment = datetime(2026, 11, 25, 4, tzinfo=UTC)
>>> read_repaired(write_repaired(Path("/tmp/repaired.json"), {"n1": moment}))
{'n1': datetime.datetime(2026, 11, 25, 4, 0, tzinfo=datetime.timezone.utc)}
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

_EXAMPLE = "2026-11-25T04:00:00+00:00"


class RepairedError(ValueError):
    """A repair-times file that cannot be read, or a time in it without its zone."""


def write_repaired(path: Path, repaired: Mapping[str, datetime]) -> Path:
    """Write node -> repair time (timezone-aware) to `path`, sorted by node; return `path`."""
    for node, moment in repaired.items():
        if moment.tzinfo is None:
            raise RepairedError(f"{node}: repair time {moment.isoformat()} has no time zone")
    document = {node: repaired[node].astimezone(UTC).isoformat() for node in sorted(repaired)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


def read_repaired(path: Path) -> dict[str, datetime]:
    """Node -> repair time (UTC) from a file `write_repaired` wrote; RepairedError names the
    file, the node and the value that is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RepairedError(f"{path}: not a readable JSON file: {error}") from None
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise RepairedError(f"{path}: expected an object of node -> repair time, got a {kind}")
    return {str(node): _moment(path, str(node), text) for node, text in sorted(document.items())}


def _moment(path: Path, node: str, text: object) -> datetime:
    """The time `text` says, in UTC; RepairedError unless it is ISO-8601 with its zone."""
    moment = None
    if isinstance(text, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(text)
    if moment is None or moment.tzinfo is None:
        raise RepairedError(
            f"{path}: {node}: repair time {text!r}: expected ISO-8601 with its zone ({_EXAMPLE})"
        )
    return moment.astimezone(UTC)

"""What a user sees of a bug: one line on stderr, and the traceback in a log file kept for them.

An exception that is not a BringupError is bringup's fault, not the user's: its traceback goes
to ``.state/logs/internal-<time>-<pid>.log`` (the newest :data:`KEEP` such files are kept), and
the user gets one line naming its type, its message and that file. Nothing secret is written
to either: every line passes through :func:`redacted`.

>>> internal_line(KeyError("rack"), Path("/srv/site/.state/logs/internal-x.log"))
"internal error: KeyError: 'rack' (details: /srv/site/.state/logs/internal-x.log)"
"""

from __future__ import annotations

import os
import platform
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bringup.atomic import write_atomic

KEEP = 20
"""Log files of internal errors kept; older ones are removed when a new one is written."""

SECRET_VARIABLES = ("PULUMI_CONFIG_PASSPHRASE", "BRINGUP_LEDGER_URL")
"""Environment variables whose values never reach a log or the terminal, wherever they appear."""

MAX_MESSAGE = 500
"""Characters of an exception's message on the user's line at most; the log has all of it."""

_PREFIX = "internal-"


def redacted(text: str) -> str:
    """`text` with the values of SECRET_VARIABLES replaced by their names, and every password
    of a database URL or conninfo masked (see :func:`bringup.admit.ledger.redact_url`)."""
    from bringup.admit.ledger import redact_url  # only when something went wrong

    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value:
            text = text.replace(value, f"<{name}>")
    return redact_url(text, os.environ.get("BRINGUP_LEDGER_URL") or None)


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` as one printable line: line breaks and other unprintable characters escaped, cut
    to `limit` characters."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def internal_line(error: BaseException, log: Path | None, why_not: str = "") -> str:
    """The line a user gets for `error`: its type and message, and where the details are."""
    message = one_line(redacted(str(error)))
    what = f"{type(error).__name__}: {message}" if message else type(error).__name__
    where = f"details: {log}" if log is not None else f"details not written: {redacted(why_not)}"
    return f"internal error: {what} ({one_line(where)})"


def write_log(error: BaseException, folder: Path) -> Path:
    """Write the redacted traceback of `error` to a new file in `folder`, keep the newest KEEP
    files there, and return the new file's path. OSError when the file cannot be written."""
    now = datetime.now(UTC)
    path = folder / f"{_PREFIX}{now:%Y%m%dT%H%M%S.%fZ}-{os.getpid()}.log"
    head = [
        f"time: {now.isoformat()}",
        f"command: {' '.join(sys.argv)}",
        f"python: {platform.python_version()} on {platform.platform()}",
        "",
    ]
    body = "".join(traceback.format_exception(error)).splitlines()
    text = "".join(redacted(line) + "\n" for line in [*head, *body])
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8", "backslashreplace"), mode=0o600)
    _prune(folder)
    return path


def _prune(folder: Path) -> None:
    """Remove all but the newest KEEP logs (their names sort by time)."""
    logs = sorted(p for p in folder.glob(f"{_PREFIX}*.log") if p.is_file())
    for old in logs[:-KEEP]:
        old.unlink(missing_ok=True)

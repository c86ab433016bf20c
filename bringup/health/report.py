"""A node's health verdict on its way to the controller, and the controller's proof of its sender.

The node posts its verdict as JSON to `bringup watch` (``POST /v1/verdicts``). It proves who it
is with MUNGE, which every Slurm node already runs with the cluster's key: the header
:data:`HEADER` carries a MUNGE credential whose payload is the SHA-256 of the body. The watch
decodes it (`unmunge`) and accepts the verdict only when the digest matches the body, the sender
ran as root, and the credential was made at the address the plan gives the node the verdict
names, or on the controller itself (``bringup health --node`` run there). So a node reports only
on itself, nobody without the cluster's key reports at all, and MUNGE's replay cache refuses a
credential used twice.

>>> digest(b"{}")
'44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from bringup.errors import BringupError

HEADER = "X-Bringup-Munge"
"""The request header that carries the MUNGE credential of the body's digest."""
MAX_BODY = 4 * 1024 * 1024
"""The largest verdict the watch reads: the evidence is bounded per section on the node."""
TIMEOUT_S = 10.0
"""How long a node waits for the watch: Slurm kills a health check that runs 60 s."""
_FIELD = re.compile(r"^(?P<key>[A-Z_]+):\s+(?P<value>.*)$")
_NAMED = re.compile(r"^(?P<name>\S*)\s*\((?P<id>[^)]*)\)$")


class ReportError(BringupError):
    """A verdict that did not reach the watch, or a credential the watch refuses."""


@dataclass(frozen=True)
class Sender:
    """Who made a MUNGE credential: the user id and the address of the host that encoded it."""

    uid: int
    address: str


def digest(body: bytes) -> str:
    """The SHA-256 of a body, as the credential's payload carries it."""
    return hashlib.sha256(body).hexdigest()


def post_verdict(
    url: str, verdict: Mapping[str, object], *, timeout: float = TIMEOUT_S
) -> Mapping[str, object]:
    """Send `verdict` to the watch at `url`; its answer (what it did), or ReportError."""
    body = json.dumps(verdict, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", HEADER: munge(digest(body))}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read(MAX_BODY).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        said = error.read(2000).decode("utf-8", "replace")
        raise ReportError(f"{url}: {error.code} {_message(said)}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ReportError(f"{url}: not reached: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ReportError(f"{url}: answered something else than JSON: {text[:200]!r}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{url}: answered {text[:200]!r}, expected a JSON object")
    return data


def _message(text: str) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return " ".join(text.split())[:200]
    return str(data.get("error", data)) if isinstance(data, dict) else str(data)


def munge(payload: str) -> str:
    """A MUNGE credential of `payload`, made by this host's munged."""
    done = _run(["munge", "-s", payload], "")
    return done.strip()


def unmunge(credential: str) -> tuple[Sender, str]:
    """The sender and the payload of a credential; ReportError when munged refuses it (forged,
    expired, replayed, another cluster's key)."""
    text = _run(["unmunge"], credential)
    head, _, payload = text.partition("\n\n")
    fields = {}
    for line in head.splitlines():
        found = _FIELD.match(line.strip())
        if found:
            fields[found.group("key")] = found.group("value").strip()
    host = _NAMED.match(fields.get("ENCODE_HOST", ""))
    user = _NAMED.match(fields.get("UID", ""))
    if host is None or user is None or not user.group("id").isdigit():
        raise ReportError(f"unmunge printed no sender: {head[:200]!r}")
    return Sender(int(user.group("id")), host.group("id")), payload.strip()


def _run(argv: list[str], stdin: str) -> str:
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise ReportError(f"{argv[0]}: not installed (MUNGE proves who sent a verdict)") from None
    except subprocess.TimeoutExpired:
        raise ReportError(f"{argv[0]}: no answer from munged in {TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.split()) or f"exit {done.returncode}"
        raise ReportError(f"{argv[0]}: {said}")
    return done.stdout

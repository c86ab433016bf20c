"""Pulumi's SDK debug messages, not sent to an engine that would drop them.

The SDK sends each of its debug messages ("registering resource ...") to the engine as it goes,
one blocking gRPC call each: about 5.5 per resource, 11,066 in a 1,000-rack `bringup up`. The
engine shows them only when its CLI runs with ``--debug`` or ``-v``, which bringup's Engine never
asks for, so each cost a round trip for nothing (1.5 to 2 s of a 1,000-rack up). :func:`install`
makes the SDK drop them in this process. Pulumi.yaml's program keeps them (a user's
``pulumi up --debug``): the language host runs it in a process that never installs this.

>>> install()
>>> log.debug is drop
True
"""

from __future__ import annotations

from pulumi import Resource, log


def drop(
    msg: str,
    resource: Resource | None = None,
    stream_id: int | None = None,
    ephemeral: bool | None = None,
) -> None:
    """A debug message of the SDK, which the engine would not show: not sent."""


def install() -> None:
    """Make the SDK's debug messages in this process go nowhere (idempotent)."""
    log.debug = drop

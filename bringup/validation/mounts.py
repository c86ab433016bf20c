"""Mount options as the kernel shows them: which planned options a live mount contradicts.

The kernel lists a mount's options in /proc/mounts in a form of its own: flags only where in
effect (``noatime``, ``nodev``, ``ro``), the defaults (``exec``, ``rw``, ``atime``) never, and
sizes in its own unit (tmpfs's ``size=1g`` as ``size=1048576k``). A planned option is judged
only where that form can tell: an option the kernel never shows (``defaults``, ``_netdev``,
``hard``) says nothing either way.

The storage role remounts by the same rule (``options_missing`` in
roles/storage_client/library/planned_mount.py), so the suite fails a mount exactly where a
converge would change it; a unit test holds the two to the same answers.

>>> options_missing("rw,relatime,size=1048576k", "noatime,nodev,size=1g")
['noatime', 'nodev']
>>> options_missing("ro,relatime", "defaults,rw,_netdev")
['rw']
"""

from __future__ import annotations

from collections.abc import Mapping

UNSHOWN_DEFAULTS: Mapping[str, str] = {
    "exec": "noexec",
    "suid": "nosuid",
    "dev": "nodev",
    "async": "sync",
    "rw": "ro",
    "atime": "noatime",
    "diratime": "nodiratime",
}
"""Defaults the kernel does not show, each with the flag it shows for their opposite."""

SHOWN_FLAGS = frozenset(
    {"ro", "noexec", "nosuid", "nodev", "sync", "dirsync", "noatime", "nodiratime"}
    | {"relatime", "strictatime", "lazytime", "mand"}
)
"""Flags the kernel lists among a mount's options whenever they are in effect."""

NEGOTIATED = frozenset({"rsize", "wsize"})
"""Keys whose value the server may lower (NFS's transfer sizes): the planned value is asked
for, not promised, so the live one cannot contradict it."""

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def option_value(text: str) -> str:
    """A key's value as compared: a size in bytes (``1g`` and ``1048576k`` alike), else as is.

    >>> option_value("1g") == option_value("1048576k"), option_value("4.2")
    (True, '4.2')
    """
    digits = text.rstrip("kKmMgGtT")
    unit = text[len(digits) :].lower()
    if digits.isdigit() and len(unit) <= 1:
        return str(int(digits) * _UNITS[unit])
    return text


def options_missing(live: str, planned: str) -> list[str]:
    """The planned options, in the planned order, that the live options contradict: a shown
    flag absent, an unshown default whose opposite is shown, a key shown with another value."""
    shown = live.split(",")
    flags = set(shown)
    values = {}
    for option in shown:
        key, equals, value = option.partition("=")
        if equals:
            values[key] = option_value(value)
    missing = []
    for option in filter(None, planned.split(",")):
        key, equals, value = option.partition("=")
        if equals:
            contradicted = (
                key not in NEGOTIATED and key in values and values[key] != option_value(value)
            )
        elif option in UNSHOWN_DEFAULTS:
            contradicted = UNSHOWN_DEFAULTS[option] in flags
        else:
            contradicted = option in SHOWN_FLAGS and option not in flags
        if contradicted:
            missing.append(option)
    return missing

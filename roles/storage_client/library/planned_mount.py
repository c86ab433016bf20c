#!/usr/bin/python3
"""Ansible module: one filesystem mounted where the plan says, and recorded in /etc/fstab."""

from __future__ import annotations

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: planned_mount
short_description: Mount one filesystem at its planned mount point and record it in fstab
description:
  - Compares /proc/mounts and the fstab with the planned source, type and options and changes
    only what differs, so a second run changes nothing. A mount point that holds another
    filesystem is unmounted first. In check mode it reports what it would do.
  - The planned filesystem, mounted with other options, is remounted with the planned ones:
    when its fstab entry had other options, or when the kernel shows a planned flag missing or
    a planned key with another value. If a remount leaves them unchanged (NFS takes no new
    version on remount), it is unmounted and mounted again. An option the kernel does not show
    (defaults, _netdev, nofail...) is judged by the fstab entry only.
options:
  path:
    description: Absolute mount point.
    type: str
    required: true
  src:
    description: What is mounted, e.g. C(10.96.255.250:/export/shared).
    type: str
    required: true
  fstype:
    description: Filesystem type, e.g. C(nfs), C(lustre), C(tmpfs).
    type: str
    required: true
  opts:
    description: Mount options.
    type: str
    default: defaults
  fstab:
    description: Record the mount in the fstab so that it comes back at boot.
    type: bool
    default: true
  fstab_path:
    description: The fstab file.
    type: str
    default: /etc/fstab
author: bringup
"""

EXAMPLES = r"""
- name: Shared NFS export
  planned_mount:
    path: /mnt/shared
    src: 10.96.255.250:/export/shared
    fstype: nfs
    opts: defaults
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done).
  type: list
  elements: str
  returned: always
"""


def _unescape(field: str) -> str:
    """A /proc/mounts or fstab field with its octal escapes (\\040 for a space) decoded."""
    return field.encode().decode("unicode_escape")


def _escape(field: str) -> str:
    return field.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")


def mounted(mounts_text: str, path: str) -> tuple[str, str, str] | None:
    """(source, type, options) of the filesystem mounted last at `path`, or None."""
    found = None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and _unescape(fields[1]) == path:
            found = (_unescape(fields[0]), fields[2], fields[3])
    return found


# Options that are defaults the kernel does not show, each with what shows its opposite.
_UNSHOWN_DEFAULTS = {
    "exec": "noexec", "suid": "nosuid", "dev": "nodev", "async": "sync", "rw": "ro",
    "atime": "noatime", "diratime": "nodiratime",
}  # fmt: skip
# Flags the kernel lists among a mount's options when they are in effect.
_SHOWN_FLAGS = frozenset(
    ("ro", "noexec", "nosuid", "nodev", "sync", "dirsync", "noatime", "nodiratime", "relatime",
     "strictatime", "lazytime", "mand")
)  # fmt: skip
# Keys whose value the server may lower (NFS's transfer sizes): asked for, not promised.
_NEGOTIATED = frozenset(("rsize", "wsize"))
_SIZE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _value(text: str) -> str:
    """A key's value, sizes in bytes (tmpfs shows size=1g as size=1048576k)."""
    digits = text.rstrip("kKmMgGtT")
    if digits.isdigit() and len(text) - len(digits) <= 1:
        return str(int(digits) * _SIZE[text[len(digits) :].lower()])
    return text


def options_missing(live: str, planned: str) -> list[str]:
    """The planned options the live options contradict: a flag the kernel shows for a mount
    that is absent (or whose opposite is there), or a key shown with another value. An option
    the kernel never shows for this mount cannot be judged from it, and is not listed."""
    shown = live.split(",")
    flags = set(shown)
    values = {k: _value(v) for k, _, v in (o.partition("=") for o in shown if "=" in o)}
    missing = []
    for option in filter(None, planned.split(",")):
        key, equals, value = option.partition("=")
        if equals:
            if key not in _NEGOTIATED and key in values and values[key] != _value(value):
                missing.append(option)
        elif option in _UNSHOWN_DEFAULTS:
            if _UNSHOWN_DEFAULTS[option] in flags:
                missing.append(option)
        elif option in _SHOWN_FLAGS and option not in flags:
            missing.append(option)
    return missing


def fstab_options(fstab_text: str, path: str) -> str | None:
    """The options of the fstab's entry for mount point `path`, or None."""
    for line in fstab_text.splitlines():
        fields = line.split()
        if len(fields) > 3 and not fields[0].startswith("#") and _unescape(fields[1]) == path:
            return fields[3]
    return None


def fstab_with(fstab_text: str, path: str, entry: str) -> str:
    """The fstab with `entry` as the only line for mount point `path` (in place of others)."""
    lines = []
    placed = False
    for line in fstab_text.splitlines():
        fields = line.split()
        if len(fields) > 1 and not fields[0].startswith("#") and _unescape(fields[1]) == path:
            if not placed:
                lines.append(entry)
                placed = True
            continue
        lines.append(line)
    if not placed:
        lines.append(entry)
    return "\n".join(lines) + "\n"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def run_all(
    module: AnsibleModule, path: str, commands: list[list[str]], actions: list[str]
) -> None:
    """Run `commands` in order (only list them in check mode); fail naming the first that
    fails."""
    for command in commands:
        actions.append(" ".join(command))
        if not module.check_mode:
            rc, _, err = module.run_command(command)
            if rc != 0:
                module.fail_json(
                    msg=f"{path}: {' '.join(command)} failed: {err.strip()}", actions=actions
                )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "str", "required": True},
            "src": {"type": "str", "required": True},
            "fstype": {"type": "str", "required": True},
            "opts": {"type": "str", "default": "defaults"},
            "fstab": {"type": "bool", "default": True},
            "fstab_path": {"type": "str", "default": "/etc/fstab"},
        },
        supports_check_mode=True,
    )
    p = module.params
    path, src, fstype, opts = p["path"], p["src"], p["fstype"], p["opts"]
    if not os.path.isabs(path):
        module.fail_json(msg=f"path {path!r}: expected an absolute mount point", actions=[])
    actions: list[str] = []
    result: dict[str, object] = {"changed": False, "actions": actions}

    fstab_before = _read(p["fstab_path"]) if p["fstab"] else ""
    if p["fstab"]:
        before = fstab_before
        entry = f"{_escape(src)} {_escape(path)} {fstype} {opts} 0 0"
        after = fstab_with(before, path, entry)
        if after != before:
            actions.append(f"record {path} in {p['fstab_path']}")
            result["diff"] = {"before": before, "after": after, "after_header": p["fstab_path"]}
            if not module.check_mode:
                folder = os.path.dirname(p["fstab_path"])
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fstab.")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(after)
                module.atomic_move(tmp, p["fstab_path"])

    current = mounted(_read("/proc/mounts"), path)
    same_filesystem = current is not None and current[:2] == (src, fstype)
    commands: list[list[str]] = []
    if current is not None and not same_filesystem:
        commands.append(["umount", path])
    if not same_filesystem:
        if not os.path.isdir(path):
            actions.append(f"create {path}")
            if not module.check_mode:
                os.makedirs(path, mode=0o755, exist_ok=True)
        commands.append(["mount", "-t", fstype, "-o", opts, src, path])
    run_all(module, path, commands, actions)
    if current is not None and same_filesystem:
        recorded = fstab_options(fstab_before, path) if p["fstab"] else None
        missing = options_missing(current[2], opts)
        if missing or (recorded is not None and recorded != opts):
            why = f"{', '.join(missing)} not in effect" if missing else f"fstab had {recorded}"
            actions.append(f"remount {path} with {opts} ({why}; mounted with {current[2]})")
            if not module.check_mode:
                run_all(module, path, [["mount", "-o", f"remount,{opts}", path]], [])
                after_remount = mounted(_read("/proc/mounts"), path)
                if after_remount is None or options_missing(after_remount[2], opts):
                    # what a remount does not change, a fresh mount does
                    again = [["umount", path], ["mount", "-t", fstype, "-o", opts, src, path]]
                    run_all(module, path, again, actions)
    result["changed"] = bool(actions)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

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


def mounted(mounts_text: str, path: str) -> tuple[str, str] | None:
    """(source, type) of the filesystem mounted last at `path`, or None."""
    found = None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and _unescape(fields[1]) == path:
            found = (_unescape(fields[0]), fields[2])
    return found


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

    if p["fstab"]:
        before = _read(p["fstab_path"])
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
    commands: list[list[str]] = []
    if current is not None and current != (src, fstype):
        commands.append(["umount", path])
    if current != (src, fstype):
        if not os.path.isdir(path):
            actions.append(f"create {path}")
            if not module.check_mode:
                os.makedirs(path, mode=0o755, exist_ok=True)
        commands.append(["mount", "-t", fstype, "-o", opts, src, path])
    for command in commands:
        actions.append(" ".join(command))
        if not module.check_mode:
            rc, _, err = module.run_command(command)
            if rc != 0:
                module.fail_json(
                    msg=f"{path}: {' '.join(command)} failed: {err.strip()}", actions=actions
                )
    result["changed"] = bool(actions)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

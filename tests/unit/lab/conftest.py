"""Shared helpers of the lab tests: SSH into a node the way Ansible and testinfra do, and check
plain data against the lab's TypedDicts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import UnionType
from typing import Literal, NotRequired, Union, get_args, get_origin, get_type_hints, is_typeddict


def ssh(
    known_hosts: Path, key: Path, address: str, command: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `command` on a lab node over real SSH, strict host-key checking on."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", "ConnectTimeout=5", "-o", f"UserKnownHostsFile={known_hosts}"]
    argv += ["-i", str(key), f"root@{address}", command]
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=300)


def shape_errors(value: object, hint: object, path: str = "$") -> list[str]:
    """Where `value` (plain JSON data) strays from the TypedDict or type `hint`: one line each,
    with the path, what was expected and what was seen."""
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, saw {value!r}"]
        # NotRequired read from the hints: with postponed annotations Python 3.11 counts every
        # key of a TypedDict in __required_keys__
        extras = get_type_hints(hint, include_extras=True)
        hints = {
            k: get_args(v)[0] if get_origin(v) is NotRequired else v for k, v in extras.items()
        }
        required = {k for k, v in extras.items() if get_origin(v) is not NotRequired}
        errors = [f"{path}.{k}: missing" for k in sorted(required - set(value))]
        errors += [f"{path}.{k}: not in {hint.__name__}" for k in sorted(set(value) - set(hints))]
        for key in sorted(set(value) & set(hints)):
            errors += shape_errors(value[key], hints[key], f"{path}.{key}")
        return errors
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        options = [shape_errors(value, arg, path) for arg in args]
        return [] if any(not o for o in options) else [f"{path}: {value!r} is not {hint}"]
    if origin is Literal:
        return [] if value in args else [f"{path}: expected one of {args}, saw {value!r}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, saw {value!r}"]
        return [
            e for i, item in enumerate(value) for e in shape_errors(item, args[0], f"{path}[{i}]")
        ]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, saw {value!r}"]
        return [e for k, v in value.items() for e in shape_errors(v, args[1], f"{path}.{k}")]
    # exact types: an enum (a str subclass) or a bool (an int) is not what the shape promises
    allowed: dict[object, tuple[type, ...]] = {
        str: (str,),
        int: (int,),
        float: (int, float),
        bool: (bool,),
        type(None): (type(None),),
    }
    if type(value) in allowed.get(hint, ()):
        return []
    return [f"{path}: expected {getattr(hint, '__name__', hint)}, saw {value!r}"]

"""The suite's rule for mount options gives the storage role's answers: the suite fails a mount
exactly where a converge would remount it."""

from __future__ import annotations

import doctest
import importlib.util
from collections.abc import Callable
from types import ModuleType

import pytest

from bringup.validation import mounts
from bringup.validation.mounts import options_missing
from bringup.workspace import REPOSITORY

ROLE_MODULE = REPOSITORY / "roles" / "storage_client" / "library" / "planned_mount.py"


def role_module() -> ModuleType:
    """The role's Ansible module, loaded by its path (roles are no package)."""
    spec = importlib.util.spec_from_file_location("planned_mount", ROLE_MODULE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# live options (as /proc/mounts shows them), planned options, what is not in effect
CASES: list[tuple[str, str, list[str]]] = [
    # the server lowers NFS's transfer sizes to its own: only the fstab can judge them
    ("rw,vers=4.2,rsize=524288,wsize=524288", "rsize=1048576,wsize=1048576", []),
    ("rw,relatime", "defaults", []),
    ("rw,relatime,vers=4.2", "noatime,nodev,vers=4.2", ["noatime", "nodev"]),
    ("rw,nodev,noatime,vers=4.2", "noatime,nodev,vers=4.2", []),
    ("rw,relatime,vers=3", "vers=4.2", ["vers=4.2"]),
    ("rw,relatime,size=1048576k,mode=1777", "size=1g,mode=1777", []),
    ("rw,relatime,size=524288k", "size=1g", ["size=1g"]),
    ("rw,relatime,size=1048576k", "size=1024M", []),
    ("ro,relatime", "rw", ["rw"]),
    ("rw,relatime", "ro", ["ro"]),
    ("rw,noexec,nosuid", "exec,suid,dev", ["exec", "suid"]),
    ("rw,sync", "async", ["async"]),
    ("rw,noatime,nodiratime", "atime,diratime", ["atime", "diratime"]),
    ("rw,relatime", "strictatime,lazytime", ["strictatime", "lazytime"]),
    ("rw,dirsync,mand", "dirsync,mand", []),
    ("rw,relatime,hard,proto=tcp", "soft,_netdev,nofail,timeo=600", []),  # never shown
    ("rw,relatime,proto=rdma", "proto=tcp,rsize=1048576", ["proto=tcp"]),
    ("rw,relatime", "noatime,,nodev,", ["noatime", "nodev"]),
    ("rw,relatime,x-sized=12abc", "x-sized=12abc", []),
]


@pytest.fixture(scope="module")
def role_options_missing() -> Callable[[str, str], list[str]]:
    function: Callable[[str, str], list[str]] = role_module().options_missing
    return function


@pytest.mark.parametrize(("live", "planned", "missing"), CASES)
def test_the_suite_and_the_role_agree(
    role_options_missing: Callable[[str, str], list[str]],
    live: str,
    planned: str,
    missing: list[str],
) -> None:
    assert options_missing(live, planned) == missing
    assert role_options_missing(live, planned) == missing


def test_the_examples_hold() -> None:
    assert doctest.testmod(mounts).failed == 0

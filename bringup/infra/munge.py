"""MungeKey: the cluster's MUNGE key, a secret of the stack's config, written for Ansible.

Every Slurm node authenticates with the cluster's MUNGE key, which the slurm_node role copies
from a file on the controller (``slurm_node_munge_key_file``). A stack can keep the key in its
own config instead, encrypted by the stack's secrets provider::

    pulumi config set --secret bringup:munge_key "$(base64 -w0 /etc/munge/munge.key)"

Pulumi.yaml's program then declares a MungeKey resource whose input is that secret. The engine
keeps the input encrypted in the state, and the provider writes the key, decoded, to the stack's
key file (``.state/secrets/<stack>/munge.key``, mode 0600): the one place where it is meant to
be in the clear. The outputs are the file's path and the key's SHA-256, never the key. As with
the rendered files, the disk is read, not trusted: a key file deleted or changed by hand is
written again by the next `up`.

>>> check_key(base64.b64encode(bytes(32)).decode()) is None
True
>>> check_key("c2hvcnQ=")
'bringup:munge_key: expected the base64 of a MUNGE key of 32 to 1024 bytes, got 5 bytes'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from bringup.atomic import fixed_temporary, write_atomic
from bringup.infra import files
from bringup.infra.inputs import Inputs, Props
from bringup.workspace import Workspace

CONFIG_KEY = "munge_key"
"""The key's name in the stack's config, under the project's namespace (bringup:munge_key)."""
MIN_BYTES, MAX_BYTES = 32, 1024
"""The sizes of a MUNGE key munged accepts (mungekey makes 256 to 8192 bits)."""


class MungeKeyInputs(Inputs):
    """The inputs of the MungeKey resource, as its provider sees them (decrypted)."""

    path: str
    """The key file, relative to the project."""
    key: str
    """The key, base64."""

    def decoded(self) -> bytes:
        """The key's bytes (checked by the engine's Check call before any write)."""
        return base64.b64decode(self.key, validate=True)


def check_key(text: str) -> str | None:
    """Why `text` is not the base64 of a MUNGE key, naming the config key and the size seen
    (never the value); None when it is one."""
    expected = f"bringup:{CONFIG_KEY}: expected the base64 of a MUNGE key of"
    try:
        size = len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return f"{expected} {MIN_BYTES} to {MAX_BYTES} bytes, got text that is not base64"
    if not MIN_BYTES <= size <= MAX_BYTES:
        return f"{expected} {MIN_BYTES} to {MAX_BYTES} bytes, got {size} bytes"
    return None


class MungeKeyProvider(ResourceProvider):
    """Writes, rewrites and removes the stack's MUNGE key file."""

    serialize_as_secret_always = False  # the provider captures nothing; the key is an input

    def check(self, olds: Props, news: Props) -> CheckResult:
        """Refuse a key that munged would refuse, before anything is written."""
        problem = check_key(str(news.get("key", "")))
        return CheckResult(news, [CheckFailure("key", problem)] if problem else [])

    def create(self, props: Props) -> CreateResult:
        """Write the key file."""
        inputs = MungeKeyInputs.of(props)
        return CreateResult(id_=inputs.path, outs=_write(inputs))

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        """Another key, or a key file not holding it, updates; another path replaces."""
        inputs = MungeKeyInputs.of(news)
        replaces = ["path"] if olds.get("path") != inputs.path else []
        digest = _digest(inputs.decoded())
        on_disk = files.on_disk(_file(inputs.path))
        changes = bool(replaces) or olds.get("sha256") != digest or on_disk != digest
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        """Write the key file again."""
        return UpdateResult(outs=_write(MungeKeyInputs.of(news)))

    def delete(self, _id: str, props: Props) -> None:
        """Remove the key file."""
        path = _file(str(props["path"]))
        path.unlink(missing_ok=True)
        fixed_temporary(path).unlink(missing_ok=True)


class MungeKey(Resource, module="bringup", name="MungeKey"):
    """The cluster's MUNGE key file, written by :class:`MungeKeyProvider`."""

    def __init__(
        self,
        name: str,
        path: str,
        key: pulumi.Output[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the key file `path` (relative to the project) holding `key` (base64, a
        secret: the engine keeps it encrypted in the state)."""
        super().__init__(MungeKeyProvider(), name, {"path": path, "key": key}, opts)


def _write(inputs: MungeKeyInputs) -> Props:
    """Write the key, readable by its owner alone; the outputs (no key)."""
    key = inputs.decoded()
    write_atomic(_file(inputs.path), key, mode=0o600, fixed=True)
    return {"path": inputs.path, "sha256": _digest(key)}


def _file(relative: str) -> Path:
    return Workspace.here().root / relative


def _digest(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()

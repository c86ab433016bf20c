"""RenderedFiles: a dynamic resource that owns a set of rendered files in one folder.

Inputs are the folder, an identity (a change of it replaces the resource, e.g. a rack's SKU)
and ``{relative path: sha256}``; the bytes come from the blob store. The provider only writes:
atomically on create and update, and on delete it removes exactly the files it wrote.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from bringup.atomic import write_atomic
from bringup.infra import blobs


class RenderedFilesProvider(ResourceProvider):
    """Writes, rewrites and removes the files of one RenderedFiles resource."""

    serialize_as_secret_always = False  # it captures nothing secret; keep state readable

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Write every file."""
        folder = _folder(props["dir"])
        for rel, digest in sorted(props["files"].items()):
            _write(folder, rel, digest)
        return CreateResult(id_=_id(props), outs=_outs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Changed hashes update; a new folder or identity replaces."""
        replaces = [key for key in ("dir", "identity") if olds.get(key) != news.get(key)]
        changes = bool(replaces) or olds.get("files") != news.get("files")
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Write the files whose hash changed and remove those no longer rendered."""
        folder = _folder(news["dir"])
        old_files: dict[str, str] = olds.get("files", {})
        for rel, digest in sorted(news["files"].items()):
            if old_files.get(rel) != digest or not (folder / rel).exists():
                _write(folder, rel, digest)
        for rel in sorted(set(old_files) - set(news["files"])):
            _remove(folder, rel)
        return UpdateResult(outs=_outs(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Remove the files this resource wrote, and folders left empty."""
        folder = _folder(props["dir"])
        for rel in sorted(props.get("files", {})):
            _remove(folder, rel)


class RenderedFiles(Resource, module="bringup", name="RenderedFiles"):
    """Files rendered from the plan, written by :class:`RenderedFilesProvider`."""

    files: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        folder: str,
        files: dict[str, str],
        identity: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Stage `files` ({relative path: text}) and declare them under `folder`."""
        hashes = {rel: blobs.stage(text) for rel, text in sorted(files.items())}
        STAGED.update(hashes.values())
        props = {"dir": folder, "identity": identity, "files": hashes}
        super().__init__(RenderedFilesProvider(), name, props, opts)


STAGED: set[str] = set()
"""Blobs staged by this process: what a finished `up` keeps in the store."""


def _folder(relative: str) -> Path:
    return blobs.project_root() / relative


def _id(props: dict[str, Any]) -> str:
    key = f"{props['dir']}\n{props['identity']}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


def _outs(props: dict[str, Any]) -> dict[str, Any]:
    return {"dir": props["dir"], "identity": props["identity"], "files": dict(props["files"])}


def _write(folder: Path, rel: str, digest: str) -> None:
    write_atomic(folder / rel, blobs.load(digest))


def _remove(folder: Path, rel: str) -> None:
    path = folder / rel
    path.unlink(missing_ok=True)
    parent = path.parent
    # The engine deletes resources in parallel: another delete may empty, remove or refill a
    # folder between our look and our rmdir; whoever comes last removes it.
    while parent != folder.parent:
        try:
            parent.rmdir()
        except FileNotFoundError:
            pass
        except OSError:  # not empty: someone else's files remain
            return
        parent = parent.parent

"""RenderedFiles: a dynamic resource that owns a set of rendered files in one folder.

Inputs (:class:`FilesInputs`) are the folder (relative to the project), an identity (a change
of it replaces the resource, e.g. a rack's SKU), ``{relative path: sha256}`` and the stack's blob
store the bytes come from. The provider only writes: atomically on create and update, and
on delete it removes exactly the files it wrote. It runs in the engine's provider process, which
finds the project through ``$BRINGUP_ROOT`` (Workspace.here).

The state is not trusted to say what is on disk: when the program declares the resource it
reads its files and compares them with what the state recorded writing (:data:`RECORDED`); a
file missing or edited by hand becomes the `drift` input, so `preview` shows the resource as
an update and `up` writes the file again (:data:`DRIFT` names them).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from bringup.atomic import fixed_temporary, write_atomic
from bringup.infra import blobs
from bringup.infra.inputs import Inputs, Props
from bringup.workspace import StackPaths, Workspace


class FilesInputs(Inputs):
    """The inputs of one RenderedFiles resource."""

    dir: str
    """The folder, relative to the project (inventory/<stack>)."""
    identity: str
    """What the files belong to; a new identity replaces the resource."""
    files: dict[str, str]
    """Relative path -> sha256 of the text in the blob store."""
    store: str = ".state/artifacts"
    """The blob store, relative to the project (the stack's own; resources recorded before
    stores were per stack name the shared one)."""
    drift: str = ""
    """What the program found on disk that differs from `files` ('2 missing, 1 edited'); the
    files themselves are named in DRIFT, not in the state."""


class RenderedFilesProvider(ResourceProvider):
    """Writes, rewrites and removes the files of one RenderedFiles resource."""

    serialize_as_secret_always = False  # it captures nothing secret; keep state readable

    def create(self, props: Props) -> CreateResult:
        """Write every file."""
        inputs = FilesInputs.of(props)
        folder = _folder(inputs.dir)
        for rel, digest in sorted(inputs.files.items()):
            _write(folder, rel, inputs.store, digest)
        return CreateResult(id_=_id(inputs), outs=inputs.props())

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        """Changed hashes update; a new folder or identity replaces."""
        replaces = [key for key in ("dir", "identity") if olds.get(key) != news.get(key)]
        drifted = bool(news.get("drift"))
        changes = bool(replaces) or olds.get("files") != news.get("files") or drifted
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        """Write the files whose hash changed and remove those no longer rendered."""
        old, new = FilesInputs.of(olds), FilesInputs.of(news)
        folder = _folder(new.dir)
        for rel, digest in sorted(new.files.items()):
            if old.files.get(rel) != digest or on_disk(folder / rel) != digest:
                _write(folder, rel, new.store, digest)
        for rel in sorted(set(old.files) - set(new.files)):
            _remove(folder, rel)
        return UpdateResult(outs=new.props())

    def delete(self, _id: str, props: Props) -> None:
        """Remove the files this resource wrote, and folders left empty."""
        inputs = FilesInputs.of(props)
        folder = _folder(inputs.dir)
        for rel in sorted(inputs.files):
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
        stack: StackPaths,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Stage `files` ({relative path: text}) in the stack's store and declare them under
        `folder`."""
        hashes = {rel: blobs.stage(text, stack.artifacts) for rel, text in sorted(files.items())}
        STAGED.update(hashes.values())
        drift = _drift(stack.workspace.root / folder, hashes, RECORDED.get(name, {}))
        if drift:
            DRIFT[name] = {f"{folder}/{rel}": kind for rel, kind in drift.items()}
        found = Counter(drift.values())
        inputs = FilesInputs(
            dir=folder,
            identity=identity,
            files=hashes,
            store=stack.artifacts_dir,
            drift=", ".join(f"{n} {kind}" for kind, n in sorted(found.items())),
        )
        super().__init__(RenderedFilesProvider(), name, inputs.props(), opts)


STAGED: set[str] = set()
"""Blobs staged by this process: what a finished `up` keeps in the store."""
DRIFT: dict[str, dict[str, str]] = {}
"""Resource name -> {file: 'missing' or 'edited'} found by this process's program."""
RECORDED: dict[str, dict[str, str]] = {}
"""Resource name -> {file: hash} as the stack's state recorded it before this run (the engine
loads it), what the disk is compared with."""


def _drift(folder: Path, hashes: dict[str, str], recorded: dict[str, str]) -> dict[str, str]:
    """The files of `hashes` that the state says were written (`recorded`: path -> hash) but
    are missing in `folder` or differ from what was written. A file the declaration adds or
    changes is not drift: the disk holds what the state says, and the update writes it."""
    drift = {}
    for rel, digest in sorted(hashes.items()):
        written = recorded.get(rel)
        if written is None:
            continue
        found = on_disk(folder / rel)
        if found not in (written, digest):
            drift[rel] = found if found in ("missing", "unreadable") else "edited"
    return drift


def on_disk(path: Path) -> str:
    """The sha256 of the file at `path`, or 'missing', or 'unreadable'."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"


def _folder(relative: str) -> Path:
    return Workspace.here().root / relative


def _id(inputs: FilesInputs) -> str:
    key = f"{inputs.dir}\n{inputs.identity}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


def _write(folder: Path, rel: str, store: str, digest: str) -> None:
    # A fixed temporary name: a write cut short (the engine killed) leaves a file that the
    # next write of the same path, which the next up makes, takes over.
    write_atomic(folder / rel, blobs.load(digest, Workspace.here().root / store), fixed=True)


def _remove(folder: Path, rel: str) -> None:
    path = folder / rel
    path.unlink(missing_ok=True)
    fixed_temporary(path).unlink(missing_ok=True)
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

"""The RenderedFiles provider, called directly: create, diff, update, delete, pickling."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from bringup.infra import blobs
from bringup.infra.files import RenderedFilesProvider
from bringup.workspace import Workspace


def STORE() -> Path:
    """The store the props name (the default: resources recorded before stores per stack)."""
    return Workspace.here().root / ".state" / "artifacts"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRINGUP_ROOT", str(tmp_path))
    return tmp_path


def _props(
    files: dict[str, str], identity: str = "r1:hgx-h100", folder: str = "inventory/t"
) -> dict:
    return {
        "dir": folder,
        "identity": identity,
        "files": {rel: blobs.stage(text, STORE()) for rel, text in files.items()},
    }


def test_create_writes_every_file(root: Path) -> None:
    props = _props({"hosts.yml": "a: 1\n", "host_vars/n1.yml": "x: 2\n"})
    result = RenderedFilesProvider().create(props)
    assert (root / "inventory/t/hosts.yml").read_text() == "a: 1\n"
    assert (root / "inventory/t/host_vars/n1.yml").read_text() == "x: 2\n"
    assert result.outs == {**props, "store": ".state/artifacts", "drift": ""}
    assert result.id


def test_diff_reports_changed_hashes_and_replaces_on_identity(root: Path) -> None:
    old = _props({"a.yml": "1\n"})
    provider = RenderedFilesProvider()
    same = provider.diff("id", old, _props({"a.yml": "1\n"}))
    assert (same.changes, same.replaces) == (False, [])
    changed = provider.diff("id", old, _props({"a.yml": "2\n"}))
    assert (changed.changes, changed.replaces) == (True, [])
    renamed = provider.diff("id", old, _props({"a.yml": "1\n"}, identity="r1:gb200-nvl72"))
    assert (renamed.changes, renamed.replaces) == (True, ["identity"])
    moved = provider.diff("id", old, _props({"a.yml": "1\n"}, folder="inventory/u"))
    assert moved.replaces == ["dir"]


def test_update_rewrites_changed_and_removes_dropped_files(root: Path) -> None:
    provider = RenderedFilesProvider()
    old = _props({"keep.yml": "k\n", "change.yml": "1\n", "drop/gone.yml": "g\n"})
    provider.create(old)
    keep = root / "inventory/t/keep.yml"
    before = keep.stat().st_mtime_ns
    new = _props({"keep.yml": "k\n", "change.yml": "2\n", "new.yml": "n\n"})
    result = provider.update("id", old, new)
    assert (root / "inventory/t/change.yml").read_text() == "2\n"
    assert (root / "inventory/t/new.yml").read_text() == "n\n"
    assert not (root / "inventory/t/drop").exists()
    assert keep.stat().st_mtime_ns == before  # unchanged files are not rewritten
    assert result.outs == {**new, "store": ".state/artifacts", "drift": ""}


def test_update_restores_a_file_deleted_by_hand(root: Path) -> None:
    provider = RenderedFilesProvider()
    props = _props({"a.yml": "1\n"})
    provider.create(props)
    (root / "inventory/t/a.yml").unlink()
    provider.update("id", props, props)
    assert (root / "inventory/t/a.yml").read_text() == "1\n"


def test_delete_removes_what_it_wrote_and_only_that(root: Path) -> None:
    provider = RenderedFilesProvider()
    props = _props({"host_vars/n1.yml": "1\n", "hosts.yml": "h\n"})
    provider.create(props)
    other = root / "inventory/t/other.yml"
    other.write_text("not ours\n")
    provider.delete("id", props)
    assert not (root / "inventory/t/hosts.yml").exists()
    assert not (root / "inventory/t/host_vars").exists()
    assert other.read_text() == "not ours\n"
    other.unlink()
    provider.create(props)
    provider.delete("id", props)
    assert not (root / "inventory/t").exists()


def test_what_a_killed_write_left_is_taken_over_by_the_next(root: Path) -> None:
    # a provider killed in the middle of a write leaves its temporary file: the next create
    # (the next up runs it again) writes through it, and a delete removes one left over
    props = _props({"host_vars/n1.yml": "x: 2\n", "host_vars/n2.yml": "y: 3\n"})
    folder = root / "inventory/t/host_vars"
    folder.mkdir(parents=True)
    (folder / ".n1.yml.partial").write_bytes(b"x")
    RenderedFilesProvider().create(props)
    assert sorted(p.name for p in folder.iterdir()) == ["n1.yml", "n2.yml"]
    (folder / ".n2.yml.partial").write_bytes(b"")
    RenderedFilesProvider().delete("id", props)
    assert not folder.exists()


def test_missing_blob_fails_without_writing(root: Path) -> None:
    props = {"dir": "inventory/t", "identity": "x", "files": {"a.yml": "0" * 64}}
    with pytest.raises(FileNotFoundError, match="0" * 64):
        RenderedFilesProvider().create(props)
    assert not (root / "inventory/t/a.yml").exists()


def test_provider_survives_the_engine_pickle_round_trip(root: Path) -> None:
    text = serialize_provider(RenderedFilesProvider())
    provider = dill.loads(base64.b64decode(text))
    assert isinstance(provider, RenderedFilesProvider)
    provider.create(_props({"a.yml": "1\n"}))
    assert (root / "inventory/t/a.yml").read_text() == "1\n"
    assert len(text) < 4096  # pickled by reference to the module, no captured state


def test_blob_store_is_content_addressed_and_prunable(root: Path) -> None:
    store = root / ".state" / "artifacts"
    digest = blobs.stage("hello\n", store)
    assert digest == blobs.stage("hello\n", store)
    assert blobs.load(digest, store) == b"hello\n"
    other = blobs.stage("bye\n", store)
    assert blobs.prune({digest}, store) == 1
    with pytest.raises(FileNotFoundError):
        blobs.load(other, store)


def test_prune_removes_temporaries_only_once_abandoned(root: Path) -> None:
    store = root / ".state" / "artifacts"
    digest = blobs.stage("hello\n", store)
    left = store / ".abc.x1y2z3"  # what a process killed while staging left
    left.write_bytes(b"half")
    now = left.stat().st_mtime
    assert blobs.prune({digest}, store, now=now + 60) == 0  # maybe another run's write
    assert left.exists()
    assert blobs.prune({digest}, store, now=now + blobs.ABANDONED + 1) == 1
    assert sorted(p.name for p in store.iterdir()) == [digest]


def test_parallel_deletes_of_one_folder_all_succeed(root: Path) -> None:
    """The engine deletes resources concurrently; the last one out removes the folders."""
    provider = RenderedFilesProvider()
    props = [_props({f"host_vars/n{i}.yml": f"{i}\n"}, identity=f"r{i}") for i in range(128)]
    for p in props:
        provider.create(p)
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(lambda p: provider.delete("id", p), props))
    assert not (root / "inventory/t").exists()


def test_a_file_edited_or_deleted_by_hand_is_drift_that_update_restores(root: Path) -> None:
    provider = RenderedFilesProvider()
    props = _props({"a.yml": "1\n", "b.yml": "2\n"})
    provider.create(props)
    (root / "inventory/t/a.yml").write_text("edited\n")
    (root / "inventory/t/b.yml").unlink()
    same = provider.diff("id", props, dict(props))
    assert same.changes is False  # the state alone cannot see it
    drifted = {**props, "drift": "1 edited, 1 missing"}
    assert provider.diff("id", props, drifted).changes is True
    provider.update("id", props, drifted)
    assert (root / "inventory/t/a.yml").read_text() == "1\n"
    assert (root / "inventory/t/b.yml").read_text() == "2\n"


def test_the_program_finds_the_drift_on_disk(root: Path) -> None:
    from bringup.infra.files import _drift

    folder = root / "inventory" / "t"
    folder.mkdir(parents=True)
    (folder / "same.yml").write_text("1\n")
    (folder / "edited.yml").write_text("changed\n")
    (folder / "declared.yml").write_text("old\n")  # what the last up wrote
    recorded = _props({"same.yml": "1\n", "edited.yml": "2\n", "gone.yml": "3\n"})["files"]
    recorded["declared.yml"] = blobs.stage("old\n", STORE())
    # the declaration changes one file and adds another: neither is drift
    hashes = {**recorded, "declared.yml": blobs.stage("new\n", STORE())}
    hashes["added.yml"] = blobs.stage("4\n", STORE())
    assert _drift(folder, hashes, recorded) == {"edited.yml": "edited", "gone.yml": "missing"}
    assert _drift(folder, hashes, {}) == {}  # a resource not created yet

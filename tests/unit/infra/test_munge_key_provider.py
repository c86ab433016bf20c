"""The MungeKey provider, called directly: check, create, diff, update, delete."""

from __future__ import annotations

import base64
import doctest
import os
from pathlib import Path

import pytest

from bringup.infra import munge
from bringup.infra.munge import MungeKeyProvider

PATH = ".state/secrets/lab/munge.key"
KEY = bytes(range(256)) * 4  # 1024 bytes, as mungekey makes by default


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRINGUP_ROOT", str(tmp_path))
    return tmp_path


def _props(key: bytes = KEY, path: str = PATH) -> dict[str, str]:
    return {"path": path, "key": base64.b64encode(key).decode()}


def test_create_writes_the_key_for_its_owner_alone_and_outputs_no_key(root: Path) -> None:
    result = MungeKeyProvider().create(_props())
    written = root / PATH
    assert written.read_bytes() == KEY
    assert written.stat().st_mode & 0o777 == 0o600
    assert result.outs is not None
    assert set(result.outs) == {"path", "sha256"}
    assert base64.b64encode(KEY).decode() not in str(result.outs)


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        (base64.b64encode(b"k" * 31).decode(), "got 31 bytes"),
        (base64.b64encode(b"k" * 1025).decode(), "got 1025 bytes"),
        ("not base64!", "got text that is not base64"),
    ],
)
def test_check_refuses_what_munged_would_naming_the_config_key(text: str, seen: str) -> None:
    result = MungeKeyProvider().check({}, {"path": PATH, "key": text})
    assert [(f.property, f.reason) for f in result.failures] == [
        (
            "key",
            f"bringup:munge_key: expected the base64 of a MUNGE key of 32 to 1024 bytes, {seen}",
        )
    ]
    assert text not in result.failures[0].reason  # the value is never shown


def test_check_passes_a_key_of_every_accepted_size() -> None:
    for size in (32, 1024):
        assert MungeKeyProvider().check({}, _props(b"k" * size)).failures == []


def test_diff_updates_on_a_new_key_or_a_key_file_changed_by_hand_and_replaces_on_a_new_path(
    root: Path,
) -> None:
    provider = MungeKeyProvider()
    olds = provider.create(_props()).outs
    assert olds is not None
    same = provider.diff(PATH, olds, _props())
    assert (same.changes, same.replaces) == (False, [])
    assert provider.diff(PATH, olds, _props(b"k" * 64)).changes
    (root / PATH).write_bytes(b"edited by hand")
    assert provider.diff(PATH, olds, _props()).changes
    (root / PATH).unlink()
    assert provider.diff(PATH, olds, _props()).changes
    moved = provider.diff(PATH, olds, _props(path=".state/secrets/other/munge.key"))
    assert moved.replaces == ["path"]


def test_update_writes_the_new_key_and_delete_removes_the_file(root: Path) -> None:
    provider = MungeKeyProvider()
    olds = provider.create(_props()).outs
    assert olds is not None
    new = b"n" * 64
    outs = provider.update(PATH, olds, _props(new)).outs
    assert (root / PATH).read_bytes() == new
    assert outs is not None
    provider.delete(PATH, outs)
    assert not (root / PATH).exists()
    assert os.listdir(root / ".state" / "secrets" / "lab") == []


def test_the_modules_examples_hold() -> None:
    assert doctest.testmod(munge).failed == 0

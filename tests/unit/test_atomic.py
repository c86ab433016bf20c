"""Atomic writes: the old file or the new one, never a part, and nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from bringup.atomic import fixed_temporary, write_all, write_atomic


@pytest.mark.parametrize("fixed", [False, True], ids=["random", "fixed"])
def test_a_write_leaves_only_the_file(tmp_path: Path, fixed: bool) -> None:
    path = tmp_path / "sub" / "a.yml"
    write_atomic(path, b"old\n", fixed=fixed)
    write_atomic(path, b"new\n", mode=0o600, fixed=fixed)
    assert path.read_bytes() == b"new\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["a.yml"]


def test_a_fixed_write_takes_over_what_a_killed_one_left(tmp_path: Path) -> None:
    path = tmp_path / "a.yml"
    fixed_temporary(path).write_bytes(b"half a fi")
    write_atomic(path, b"whole\n", fixed=True)
    assert [p.name for p in tmp_path.iterdir()] == ["a.yml"]
    assert path.read_bytes() == b"whole\n"


def test_a_fixed_write_does_not_follow_a_link_left_in_its_place(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep\n")
    path = tmp_path / "a.yml"
    fixed_temporary(path).symlink_to(victim)
    write_atomic(path, b"new\n", fixed=True)
    assert victim.read_bytes() == b"keep\n"
    assert path.read_bytes() == b"new\n"
    assert not path.is_symlink()


def test_a_failed_write_removes_its_temporary(tmp_path: Path) -> None:
    (tmp_path / "dir.yml").mkdir()  # a folder in the way: the rename fails
    for fixed in (False, True):
        with pytest.raises(IsADirectoryError):
            write_atomic(tmp_path / "dir.yml", b"x", fixed=fixed)
    assert [p.name for p in tmp_path.iterdir()] == ["dir.yml"]


def test_write_all_writes_every_file_or_none(tmp_path: Path) -> None:
    (tmp_path / "b.csv").mkdir()
    with pytest.raises(IsADirectoryError):
        write_all(tmp_path, {"a.json": lambda h: h.write("{}"), "b.csv": lambda h: h.write("")})
    assert [p.name for p in tmp_path.iterdir()] == ["b.csv"]
    (tmp_path / "b.csv").rmdir()
    write_all(tmp_path, {"a.json": lambda h: h.write("{}"), "b.csv": lambda h: h.write("x")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.csv"]

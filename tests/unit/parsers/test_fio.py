"""The fio parser on real output: the test runs /usr/bin/fio on a temporary folder."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bringup.parsers import ParseError
from bringup.parsers.fio import parse_fio

FIO = shutil.which("fio") or "/usr/bin/fio"


def run_fio(folder: Path, *jobs: str) -> str:
    """fio as the burn_in role runs it (small sizes), JSON on stdout."""
    argv = [FIO, "--output-format=json", f"--directory={folder}",
            "--filename_format=bringup-test.$jobnum", "--size=4M", "--bs=1M",
            "--ioengine=psync", *jobs]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def write_read(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("fio")
    return run_fio(
        folder, "--name=write", "--rw=write", "--end_fsync=1", "--name=read", "--rw=read",
        "--stonewall",
    )  # fmt: skip


def test_jobs_and_bandwidth(write_read: str) -> None:
    report = parse_fio(write_read)
    raw = json.loads(write_read)
    assert report.version == raw["fio version"]
    assert [j.name for j in report.jobs] == ["write", "read"]
    write, read = report.job("write"), report.job("read")
    assert write.error == 0
    assert read.error == 0
    assert write.write.io_bytes == 4 * 1024 * 1024
    assert read.read.io_bytes == 4 * 1024 * 1024
    assert write.read.io_bytes == 0
    assert write.write.bw_bytes == raw["jobs"][0]["write"]["bw_bytes"] > 0
    assert write.write.gbs == pytest.approx(raw["jobs"][0]["write"]["bw_bytes"] / 1e9)


def test_leading_warning_lines_are_skipped(write_read: str) -> None:
    report = parse_fio("fio: this platform does not support process shared mutexes\n" + write_read)
    assert len(report.jobs) == 2


def test_job_error_is_kept(tmp_path: Path) -> None:
    # reading a file that does not exist with --readonly: fio reports the job's errno
    out = subprocess.run(
        [FIO, "--output-format=json", "--name=bad", "--rw=read", "--readonly",
         f"--filename={tmp_path / 'absent'}", "--size=1M"],
        capture_output=True, text=True, timeout=60, check=False,
    ).stdout  # fmt: skip
    report = parse_fio(out)
    assert report.jobs[0].error != 0


def test_kib_only_bandwidth_of_old_fio() -> None:
    text = '{"jobs": [{"jobname": "w", "error": 0, "write": {"io_bytes": 1, "bw": 1000}}]}'
    assert parse_fio(text).jobs[0].write.bw_bytes == 1024000


@pytest.mark.parametrize(
    ("text", "reason"),
    [("fio: no job given\n", "no JSON document"), ('{"jobs": 3}', "no 'jobs' list"),
     ('{"jobs": [\n{"jobname": "w",\n', "bad JSON")],
)  # fmt: skip
def test_unreadable_output(text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_fio(text)

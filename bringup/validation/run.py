"""Run the validation suite on some hosts of an inventory, in a subprocess, and read its report.

This is what `bringup admit` calls. The suite runs the way a user runs it
(``python -m pytest tests/validation --hosts=ansible://… --ansible-inventory=…``), so admission
and a user's CI judge a node identically. Hosts are split into `workers` shards, each its own
pytest process, for large batches (each process also collects its hosts in parallel threads);
their reports are merged. A host that appears in no report (the process died, the host was not
in the inventory) is returned as unreachable, with the reason.

>>> # run_suite(Path("inventory/lab/hosts.yml"), ["lab-h1-r01-k01-n1"],
>>> #           suite=Path("tests/validation"), report=Path("r.json"))
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bringup.validation.report import HostReport, read_report, write_report

HOSTS_PER_WORKER = 256


def suite_command(
    inventory: Path,
    hosts: Sequence[str],
    *,
    suite: Path,
    report: Path,
    junit: Path | None = None,
    burn_in_dir: Path | None = None,
    ssh_config: Path | None = None,
    repaired: Path | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The pytest command line for one shard of hosts (`suite`: the tests/validation folder)."""
    argv = [
        sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
        f"--rootdir={suite.parents[1]}",
        f"--hosts={','.join(f'ansible://{h}' for h in hosts)}",
        f"--ansible-inventory={inventory}",
        f"--bringup-report={report}",
    ]  # fmt: skip
    if junit is not None:
        argv.append(f"--junitxml={junit}")
    if burn_in_dir is not None:
        argv.append(f"--bringup-burn-in={burn_in_dir}")
    if ssh_config is not None:
        argv.append(f"--ssh-config={ssh_config}")
    if repaired is not None:
        argv.append(f"--bringup-repaired={repaired}")
    return [*argv, *extra_args]


def _shards(hosts: Sequence[str], workers: int) -> list[list[str]]:
    count = max(1, min(workers, len(hosts)))
    return [list(hosts[i::count]) for i in range(count) if hosts[i::count]]


def run_suite(
    inventory: Path,
    hosts: Sequence[str],
    *,
    suite: Path,
    report: Path,
    junit: Path | None = None,
    burn_in_dir: Path | None = None,
    ssh_config: Path | None = None,
    repaired: Path | None = None,
    workers: int | None = None,
    extra_args: Sequence[str] = (),
) -> dict[str, HostReport]:
    """Validate `hosts`; write the merged report to `report` and return it, every host in it.

    `workers` is the number of pytest processes (default: one per 256 hosts). With one
    worker, `junit` is pytest's own file; with several, each shard writes ``<junit>.<i>.xml``.
    `repaired` is the file of the repaired nodes' repair times (bringup.validation.repaired),
    given to every shard: the Xid checks of a node in it ignore what came before its repair.
    `extra_args` go to pytest as they are (``--bringup-diag-level=1``, ``-x``...).
    """
    wanted = list(dict.fromkeys(hosts))
    shards = _shards(wanted, workers or -(-len(wanted) // HOSTS_PER_WORKER))
    report.parent.mkdir(parents=True, exist_ok=True)

    def run_shard(index: int, shard: list[str]) -> tuple[dict[str, HostReport], str]:
        single = len(shards) == 1
        part = report if single else report.with_name(f"{report.stem}.{index}{report.suffix}")
        shard_junit = junit if single or junit is None else junit.with_suffix(f".{index}.xml")
        argv = suite_command(inventory, shard, suite=suite, report=part, junit=shard_junit,
                             burn_in_dir=burn_in_dir, ssh_config=ssh_config,
                             repaired=repaired, extra_args=extra_args)  # fmt: skip
        done = subprocess.run(
            argv, capture_output=True, text=True, cwd=suite.parents[1], check=False
        )
        reason = (done.stdout + done.stderr).strip().splitlines()[-1:] or [
            f"exit {done.returncode}"
        ]
        return (read_report(part) if part.exists() else {}), reason[0]

    merged: dict[str, HostReport] = {}
    reasons: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(shards))) as pool:
        results = list(pool.map(lambda args: run_shard(*args), enumerate(shards)))
    for shard, (found, reason) in zip(shards, results, strict=True):
        merged.update(found)
        reasons.update(dict.fromkeys(shard, reason))
    for host in wanted:
        if host not in merged:
            message = f"not in the suite's report: {reasons[host]}"
            merged[host] = HostReport(host, unreachable=True, message=message)
    write_report(report, merged)
    return merged

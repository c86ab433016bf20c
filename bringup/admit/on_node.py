"""Admission's work on the node itself: burn-in, then the validation suite, one report out.

At fleet scale the controller does not open an SSH session per node: the scheduler runs this on
each node as a job step (``python -m bringup.admit.on_node``), inside a reservation only bringup
uses. The node burns itself in with the same playbook (Ansible's local connection, the same
inventory and variables), then runs the same suite with testinfra's local backend against its
own rendered expectations (its host_vars file), and prints one line the controller gathers
from the step's output::

    bringup-report {"node": …, "burn_in": {"ok": …, "message": …}, "report": {…}}

The inventory and the repository are read where the controller has them: a shared filesystem
in a site, the host's files seen through a lab node's overlay in the lab. So is ``--repaired``,
the file of repair times of the batch's nodes that admission revalidates (the suite's
``--bringup-repaired``): the node's own Xid checks look the node up in it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from bringup.validation.report import read_report, write_report

MARKER = "bringup-report "
"""How the controller finds a node's line in the step's output."""
TAIL = 600
"""Characters of a failed command's output kept in the report."""


def burn_in(
    node: str, inventory: Path, repository: Path, out: Path, level: int, extra: dict[str, object]
) -> tuple[bool, str]:
    """The burn-in playbook on this node through Ansible's local connection."""
    variables = {**extra, "burn_in_dcgm_diag_level": level, "burn_in_fetch_dir": str(out)}
    argv = [
        sys.executable, "-m", "ansible.cli.playbook",
        "-i", str(inventory), "-c", "local", "--limit", node,
        "-e", json.dumps(variables),
        str(repository / "playbooks" / "burn_in.yml"),
    ]  # fmt: skip
    done = subprocess.run(argv, cwd=repository, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return True, ""
    return False, (done.stdout + done.stderr).strip()[-TAIL:]


def validate(
    node: str,
    inventory: Path,
    repository: Path,
    work: Path,
    level: int,
    burnt: Path | None,
    repaired: Path | None = None,
) -> dict[str, object]:
    """The suite against this node's own expectations; the report as JSON data. `repaired`:
    the repair times of the nodes being revalidated (bringup.validation.repaired)."""
    report = work / "report.json"
    suite = repository / "tests" / "validation"
    folder = inventory if inventory.is_dir() else inventory.parent  # hosts.yml's folder
    argv = [
        sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
        f"--rootdir={repository}", "--hosts=local://",
        f"--bringup-expected={folder / 'host_vars' / f'{node}.yml'}",
        f"--bringup-report={report}", f"--bringup-diag-level={level}",
    ]  # fmt: skip
    if burnt is not None:
        argv.append(f"--bringup-burn-in={burnt}")
    if repaired is not None:
        argv.append(f"--bringup-repaired={repaired}")
    done = subprocess.run(argv, cwd=repository, capture_output=True, text=True, check=False)
    if not report.exists():
        tail = (done.stdout + done.stderr).strip()[-TAIL:]
        return {"error": f"the suite wrote no report (exit {done.returncode}): {tail}"}
    hosts = read_report(report)
    # the local backend names the host after the expectation's node; keep only this node
    if node not in hosts:
        said = _first_error(done.stdout + done.stderr)
        return {"error": f"the suite reported {sorted(hosts) or 'no host'}, not {node}: {said}"}
    write_report(report, {node: hosts[node]})
    return dict(json.loads(report.read_text(encoding="utf-8")))


def _first_error(output: str) -> str:
    """pytest's first error line ("E   …"), else the end of its output."""
    errors = [line[1:].strip() for line in output.splitlines() if line.startswith("E ")]
    return errors[0][:TAIL] if errors else output.strip()[-TAIL:]


def main(argv: list[str] | None = None) -> int:
    """Burn in and validate this node; print its report line. Exit 0 once the line is out."""
    parser = argparse.ArgumentParser(prog="python -m bringup.admit.on_node")
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--repository", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="a folder of this node's")
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--burn-in", action="store_true")
    parser.add_argument("--extra-vars", default="{}", help="JSON: the Access's variables")
    parser.add_argument(
        "--repaired", type=Path, default=None, help="JSON: node -> time of its latest repair"
    )
    args = parser.parse_args(argv)
    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    work = args.work / node
    work.mkdir(parents=True, exist_ok=True)
    line: dict[str, object] = {"node": node, "burn_in": {"ok": True, "message": ""}}
    burnt = None
    if args.burn_in:
        burnt = work / "burn-in"
        ok, message = burn_in(
            node, args.inventory, args.repository, burnt, args.level, json.loads(args.extra_vars)
        )
        line["burn_in"] = {"ok": ok, "message": message}
        if not ok:
            print(MARKER + json.dumps(line), flush=True)
            return 0
    line["report"] = validate(
        node, args.inventory, args.repository, work, args.level, burnt, args.repaired
    )
    print(MARKER + json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

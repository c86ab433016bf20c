"""Report scale benchmark: `bringup report` for lab, gb200-su and gb300-100k; its file size and
the time headless Chromium takes to load and draw it.

Each stack gets a fresh project folder and a SQLite ledger written through the Ledger, as
admission and the watch write it: every node judged in one run, about 1 in 100 quarantined with
a GPU and a NIC finding (the NIC's planned cable, so the fabric marks it), 1 in 400 unreachable,
1 in 50 left validating, and 1 in 500 of the admitted failing in service with an open incident.
Seeding is not timed. Then, per stack:

- report s: what `bringup report --no-scheduler` does, in a fresh interpreter, from before its
  imports: plan the stack, read the ledger, decide, draw, write the page;
- MiB: the size of index.html;
- load s: in a new page of headless Chromium (Debian's, driven by Playwright), from navigation
  to the load event and two animation frames after it: the page parsed, its script run, the
  first screen drawn. Rows of racks off the screen are laid out when scrolled to
  (`content-visibility: auto`), as a browser does for a person;
- all drawn s: the same, then every row of racks laid out and drawn at once (what printing or a
  full-page screenshot costs).

The browser times are the median of 3 loads, each in a new page.

    .venv/bin/python benchmarks/report_scale.py [--stacks lab,gb200-su,gb300-100k]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bringup.plan import Plan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
LOADS = 3
DRAWN = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def seed(project: Path, stack: str, plan: Plan) -> None:
    """The ledger of a stack in service: mostly admitted, some quarantined, a few incidents."""
    from bringup.admit.ledger import Ledger
    from bringup.plan.expectation import Expectations
    from bringup.validation.report import Finding

    expectations = Expectations(plan)
    names = [n.name for n in plan.nodes]
    with Ledger.open(path=project / ".state" / "ledger.sqlite3") as ledger:
        run = ledger.start_run(stack, names, {"burn_in": True})
        for i, node in enumerate(plan.nodes):
            ledger.record_state(stack, node.name, "provisioned", run_id=run.id)
            ledger.record_state(stack, node.name, "validating", run_id=run.id)
            if i % 50 == 7:
                continue  # still being judged: pending
            if i % 400 == 3:
                lost = Finding(f"node:{node.name}", "node.reachable", "ssh: timed out", "reachable")
                ledger.record_verdict(run.id, stack, node.name, "unreachable", [lost])
            elif i % 100 == 1:
                gpu = Finding(f"gpu:{node.name}/3", "gpu.ecc", "12 uncorrectable", "0")
                nics = expectations.of(node).nics
                found = [gpu]
                if nics:
                    nic = nics[min(1, len(nics) - 1)]
                    found.append(
                        Finding(f"nic:{node.name}/{nic.label}", "nic.carrier", "no carrier",
                                f"carrier from {nic.leaf} port {nic.leaf_port}", "",
                                nic.attributes)
                    )  # fmt: skip
                ledger.record_verdict(run.id, stack, node.name, "quarantined", found)
            else:
                ledger.record_verdict(run.id, stack, node.name, "admitted", [])
        ledger.finish_run(run.id)
        for i, node in enumerate(plan.nodes):
            if i % 500 != 250:
                continue
            xid = Finding(f"gpu:{node.name}/1", "gpu.xid", "Xid 79", "no Xid")
            incident, _ = ledger.open_incident(
                stack,
                node.name,
                findings=[xid],
                first_seen=datetime.now(UTC),
                trigger="interval",
                action="reboot",
                bundle=f".state/incidents/{stack}/{node.name}",
            )
            ledger.quarantine_in_service(stack, node.name, incident.id, "bringup: gpu.xid")
            ledger.update_incident(incident.id, scheduler="drained", drained_at=datetime.now(UTC))


def browser_times(page_path: Path) -> tuple[float, float]:
    """Median seconds to load and draw the first screen, and to draw every row."""
    from playwright.sync_api import sync_playwright

    loads, whole = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for _ in range(LOADS):
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(page_path.as_uri(), wait_until="load")
            page.evaluate(DRAWN)
            loads.append(page.evaluate("performance.now()") / 1000)
            page.evaluate(
                "() => document.querySelectorAll('.rowbox')"
                ".forEach(e => { e.style.contentVisibility = 'visible' })"
            )
            page.evaluate("document.body.getBoundingClientRect().height")
            page.evaluate(DRAWN)
            whole.append(page.evaluate("performance.now()") / 1000)
            page.close()
        browser.close()
    return statistics.median(loads), statistics.median(whole)


def measure(stack: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"report-{stack}-") as folder:
        from bringup.cli.common import plan_stack

        project = Path(folder)
        os.chdir(project)
        _, _, plan = plan_stack(stack, ROOT / "stacks")
        seed(project, stack, plan)
        child = subprocess.run(
            [sys.executable, __file__, "--one", stack],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"report of {stack}: exit {child.returncode}: {child.stderr}")
        made, written = child.stdout.split()
        page = project / written
        load, drawn = browser_times(page)
        return {
            "stack": stack,
            "racks": len(plan.racks),
            "nodes": len(plan.nodes),
            "report_s": float(made),
            "mib": page.stat().st_size / 2**20,
            "load_s": load,
            "drawn_s": drawn,
        }


def report_here(stack: str) -> None:
    """Write the report of `stack` into ./report as `bringup report` does; print the seconds it
    took from before its imports, and the page's path."""
    start = time.perf_counter()
    from bringup.cli.common import plan_stack
    from bringup.cli.report import write_report

    ws, cluster, plan = plan_stack(stack, ROOT / "stacks")
    page = write_report(ws, stack, cluster, plan, Path("report"), scheduler=False)
    print(f"{time.perf_counter() - start:.3f} {page}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", default="lab,gb200-su,gb300-100k")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        report_here(args.one)
        return
    print(f"{'stack':>12} {'racks':>6} {'nodes':>7} {'report s':>9} {'MiB':>6} {'load s':>7} "
          f"{'all drawn s':>12}")  # fmt: skip
    for stack in args.stacks.split(","):
        r = measure(stack)
        print(
            f"{r['stack']:>12} {r['racks']:>6,} {r['nodes']:>7,} {r['report_s']:>9.2f} "
            f"{r['mib']:>6.2f} {r['load_s']:>7.2f} {r['drawn_s']:>12.2f}"
        )


if __name__ == "__main__":
    main()

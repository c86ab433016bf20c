"""The lab's report in a real browser: Debian's Chromium, headless, driven by Playwright.

The page is written by `bringup report` from a real SQLite ledger (one node admitted, one
quarantined with findings, one failing in service with an open incident). The test reads the
DOM as a person would use it: one rack per planned rack, the quarantined node's colour, its
tooltip and the details shown when pointing at it, an incident's evidence link, a sortable table,
the hall map's links. It saves screenshots and prints where, to be looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from bringup.admit.prepare import LEDGER_URL_VARIABLE

from .lab_ledger import (
    ADMITTED,
    FAILING,
    GPU_FINDING,
    NIC_FINDING,
    PLAN,
    QUARANTINED,
    XID_FINDING,
    seed,
)
from .test_report_cli import invoke

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    """The lab's report, opened; no error may reach the browser's console."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LEDGER_URL_VARIABLE, raising=False)
    seed(tmp_path)
    result = invoke("--stack", "lab", "--out", "report")
    assert result.exit_code == 0, result.output
    opened = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("request", lambda r: None if r.url.startswith("file:") else errors.append(r.url))
    opened.goto((tmp_path / "report" / "index.html").as_uri())
    yield opened
    opened.close()
    assert errors == []  # no script error, and nothing fetched but the file itself


def unit(page: Page, node: str) -> str:
    """The selector of a node's unit in the rack elevations."""
    return f'rect[data-n="{[n.name for n in PLAN.nodes].index(node)}"]'


def test_one_rack_element_per_planned_rack(page: Page) -> None:
    racks = page.locator("svg.row g.rack")
    assert racks.count() == len(PLAN.racks)
    assert [racks.nth(i).get_attribute("id") for i in range(racks.count())] == [
        f"rack-{r.name}" for r in PLAN.racks
    ]
    units = page.locator("svg.row rect[data-n]")
    assert units.count() == len(PLAN.nodes)
    assert page.locator("svg.row rect.sw").count() == 9  # the NVL72 rack's switch trays


def test_the_quarantined_node_carries_its_state_and_its_finding(page: Page) -> None:
    quarantined = page.locator(unit(page, QUARANTINED))
    assert quarantined.get_attribute("class") == "q"
    assert page.locator(unit(page, ADMITTED)).get_attribute("class") == "a"
    fill = quarantined.evaluate("e => getComputedStyle(e).fill")
    assert fill == "rgb(211, 47, 47)"  # the quarantined red of the legend
    title = quarantined.locator("title").text_content() or ""
    assert f"{GPU_FINDING.component} {GPU_FINDING.check}: observed {GPU_FINDING.observed}" in title
    quarantined.hover()
    panel = page.locator("#panel")
    assert panel.is_visible()
    assert panel.locator("h4").first.text_content() == QUARANTINED
    text = panel.text_content() or ""
    assert "quarantined" in text
    rows = panel.locator("tr.finding")
    assert rows.count() == 2
    cells = [rows.nth(0).locator("td").nth(i).text_content() for i in range(4)]
    assert cells == [GPU_FINDING.component, GPU_FINDING.check, GPU_FINDING.observed, "0"]
    assert NIC_FINDING.component in (rows.nth(1).text_content() or "")


def test_clicking_a_failing_node_keeps_its_incident_and_evidence_in_view(
    page: Page, tmp_path: Path
) -> None:
    page.locator(unit(page, FAILING)).click()
    panel = page.locator("#panel")
    assert "pinned" in (panel.get_attribute("class") or "")
    assert "Incident 1 (open)" in (panel.text_content() or "")
    assert XID_FINDING.observed in (panel.text_content() or "")
    evidence = panel.locator("a", has_text="evidence")
    assert evidence.get_attribute("href") == (tmp_path / ".state/incidents/lab/1").as_uri()
    page.mouse.move(5, 5)  # pointing elsewhere leaves a pinned panel as it is
    assert panel.is_visible()
    page.keyboard.press("Escape")
    assert not panel.is_visible()


def test_a_table_sorts_by_the_header_clicked(page: Page) -> None:
    table = page.locator("#findings table")
    header = table.locator("th", has_text="observed")

    def column() -> list[str]:
        cells = table.locator("tbody tr td:nth-child(6)")
        return [cells.nth(i).text_content() or "" for i in range(cells.count())]

    header.click()
    assert column() == sorted(column(), key=str.lower)
    header.click()
    assert column() == sorted(column(), key=str.lower, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"


def test_the_hall_map_leads_to_the_racks_elevation(page: Page) -> None:
    page.locator("svg.map a").nth(1).click()
    assert page.evaluate("location.hash") == f"#rack-{PLAN.racks[1].name}"
    stroke = page.locator(f"#rack-{PLAN.racks[1].name} .fr").evaluate(
        "e => getComputedStyle(e).strokeWidth"
    )
    assert stroke == "3px"  # the rack pointed at is outlined


def test_screenshots_of_the_report(page: Page, tmp_path: Path) -> None:
    whole = tmp_path / "report-screenshot.png"
    page.screenshot(path=str(whole), full_page=True)
    page.locator("#racks").scroll_into_view_if_needed()
    page.locator(unit(page, QUARANTINED)).click()
    detail = tmp_path / "report-node-details.png"
    page.screenshot(path=str(detail))
    for shot in (whole, detail):
        assert shot.stat().st_size > 10_000
        assert re.match(rb"\x89PNG", shot.read_bytes()[:4])
    print(f"\nscreenshots: {whole} {detail}")

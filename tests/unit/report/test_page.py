"""The page: self-contained, every ledger value escaped, the nodes' data the script reads, the
evidence linked, a held drain said first."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from bringup.admit.ledger import Ledger
from bringup.report.page import report_html

from .lab_ledger import FAILING, PLAN, QUARANTINED, ledger_path, report_of, seed
from .test_drawing import HOSTILE, hostile

DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


class _Scan(HTMLParser):
    """Every tag with its attributes, and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def scan(page: str) -> _Scan:
    parser = _Scan()
    parser.feed(page)
    return parser


def test_the_page_fetches_nothing_when_viewed(tmp_path: Path) -> None:
    page = report_html(hostile(tmp_path))
    assert page.startswith("<!DOCTYPE html>")
    tags = scan(page).tags
    assert not [t for t, _ in tags if t in ("link", "img", "iframe", "object", "embed")]
    assert not [a for t, a in tags if t == "script" and "src" in a]
    refs = [a.get("href") or "" for _, a in tags if "href" in a]
    assert refs
    assert [r for r in refs if not r.startswith(("#", "file://"))] == []
    assert "@import" not in page
    assert "url(" not in page
    outside = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert outside == {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}  # names


def test_ledger_values_are_escaped_everywhere_and_read_back_intact(tmp_path: Path) -> None:
    page = report_html(hostile(tmp_path))
    assert "<script>alert" not in page
    assert [t for t, _ in scan(page).tags].count("script") == 2  # the data, the page's own
    (blob,) = DATA.findall(page)
    data = json.loads(blob)
    index = [n.name for n in PLAN.nodes].index(QUARANTINED)
    component, check, observed, expected, evidence = data["d"][str(index)]["f"][0]
    assert (component, check, observed, expected, evidence) == (
        HOSTILE.component,
        HOSTILE.check,
        HOSTILE.observed,
        HOSTILE.expected,
        HOSTILE.evidence,
    )
    text = "".join(scan(page).text)
    assert f"{HOSTILE.observed}" in text  # shown as text in the findings table


def test_every_node_is_in_the_data_by_the_index_its_unit_names(tmp_path: Path) -> None:
    page = report_html(hostile(tmp_path))
    data = json.loads(DATA.findall(page)[0])
    assert [n[0] for n in data["n"]] == [n.name for n in PLAN.nodes]
    assert data["states"] == {
        "a": "admitted", "q": "quarantined", "u": "unreachable", "r": "repaired", "p": "pending",
    }  # fmt: skip
    skus = [sku for sku, _ in data["skus"]]
    assert [skus[n[2]] for n in data["n"]] == [n.sku for n in PLAN.nodes]
    units = [int(a["data-n"] or "") for t, a in scan(page).tags if t == "rect" and "data-n" in a]
    assert units == list(range(len(PLAN.nodes)))
    assert len(data["d"]) == 4  # only the nodes the ledger has seen have details


def test_the_open_incident_links_its_evidence_folder(tmp_path: Path) -> None:
    page = report_html(hostile(tmp_path))
    data = json.loads(DATA.findall(page)[0])
    index = [n.name for n in PLAN.nodes].index(FAILING)
    incident = data["d"][str(index)]["i"]
    evidence = (tmp_path / ".state" / "incidents" / "lab" / "1").as_uri()
    assert (incident["status"], incident["href"], incident["f"][0][1]) == (
        "open",
        evidence,
        "gpu.xid",
    )
    links = [a.get("href") for t, a in scan(page).tags if t == "a"]
    assert evidence in links


def test_a_drain_held_by_the_circuit_breaker_is_said_first(tmp_path: Path) -> None:
    seed(tmp_path)
    reason = "circuit breaker: 3 nodes of 21 (14%) drained within 300 s"
    with Ledger.open(path=ledger_path(tmp_path)) as ledger:
        (incident,) = ledger.incidents("lab")
        ledger.update_incident(incident.id, status="held", breaker=reason)
    page = report_html(report_of(tmp_path))
    alarm = page.index('class="alarm"')
    assert alarm < page.index('id="summary"')
    assert f"1 failing node(s) kept in the scheduler. {reason}" in page[alarm : alarm + 400]

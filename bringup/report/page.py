"""The report as one self-contained HTML page: the template, its CSS and script inlined, the
drawings inlined, and the nodes' details as one JSON document the script reads.

Nothing is fetched when the page is viewed: no CDN, font or remote script, so it opens from a
file on a laptop in the hall or on a wall screen without a network. Every value from the ledger
or the scheduler reaches the page escaped: Jinja2 autoescapes the template, the JSON is written
with Jinja2's `tojson` (``<``, ``>``, ``&`` and ``'`` as \\u escapes), the script writes it into the
page as text nodes only, and the drawings escape their text and attributes.

>>> report_html(report)[:15]  # doctest: +SKIP
'<!DOCTYPE html>'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from pydantic import JsonValue

from bringup.admit.ledger import UNCLOSED, Incident
from bringup.render.environment import TEMPLATES
from bringup.report.chart import capacity_svg, series_class
from bringup.report.elevation import finding_text, hall_map_svg, rack_id, row_svg
from bringup.report.fabric import plane_views
from bringup.report.model import SHOWN_STATES, STATE_CLASS, Finding, NodeView, Report

FOLDER = TEMPLATES / "report"
CLOSED_SHOWN = 100
"""Closed incidents listed after the ones not closed; older ones are counted, not listed."""


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(FOLDER),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "sort_keys": False}
    env.filters["when"] = when
    env.filters["num"] = lambda n: f"{n:,}"
    return env


def when(moment: datetime | None) -> str:
    """A time as the page writes it: ``2026-12-06 18:01:23 UTC``; empty for none."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else ""


def evidence_uri(report: Report, bundle: str) -> str:
    """The file:// URI of an incident's evidence folder; empty when it has none."""
    if not bundle:
        return ""
    path = Path(bundle)
    return (path if path.is_absolute() else report.evidence_root / path).as_uri()


def report_html(report: Report) -> str:
    """The whole page."""
    unclosed = [i for i in report.incidents if i.status in UNCLOSED]
    closed = [i for i in report.incidents if i.status not in UNCLOSED]
    template = _environment().get_template("index.html.j2")
    return template.render(
        r=report,
        css=Markup((FOLDER / "report.css").read_text(encoding="utf-8")),
        js=Markup((FOLDER / "report.js").read_text(encoding="utf-8")),
        states=SHOWN_STATES,
        state_class=STATE_CLASS,
        capacity=Markup(capacity_svg(report.capacity)),
        series=[(sku, series_class(i)) for i, sku in enumerate(report.capacity.skus)],
        hall_maps=[(hall, Markup(hall_map_svg(report, hall))) for hall in report.halls],
        rows=[(row, Markup(row_svg(row))) for row in report.rows],
        planes=[(view, Markup(view.svg)) for view in plane_views(report)],
        unplanned=[c for c in report.failing_cables if not c.fabric],
        incidents=unclosed + closed[:CLOSED_SHOWN],
        older_closed=max(0, len(closed) - CLOSED_SHOWN),
        findings=finding_rows(report.nodes),
        evidence=lambda bundle: evidence_uri(report, bundle),
        rack_id=rack_id,
        racks_of={v.name: v.node.rack for v in report.nodes},
        data=page_data(report),
        finding_text=finding_text,
    )


def finding_rows(nodes: Sequence[NodeView]) -> list[tuple[NodeView, str, Finding]]:
    """What fails now, a finding a row: (node, where it was found, finding)."""
    rows = []
    for view in nodes:
        source = f"incident {view.incident.id}" if view.incident else "latest verdict"
        rows += [(view, source, f) for f in view.failing]
    return rows


def page_data(report: Report) -> dict[str, JsonValue]:
    """What the script shows of each node: in `n` its name, state class and SKU for every node
    (by index, as ``data-n`` names it), in `d` the details of each node the ledger or the
    scheduler said something of."""
    skus = sorted({v.node.sku for v in report.nodes})
    column = {sku: i for i, sku in enumerate(skus)}
    gpus = {v.node.sku: v.gpus for v in report.nodes}
    details: dict[str, JsonValue] = {}
    for view in report.nodes:
        found = _details(report, view)
        if found:
            details[str(view.index)] = found
    return {
        "states": {STATE_CLASS[s]: s for s in SHOWN_STATES},
        "skus": [[sku, gpus[sku]] for sku in skus],
        "n": [[v.name, STATE_CLASS[v.state], column[v.node.sku]] for v in report.nodes],
        "d": details,
    }


def _details(report: Report, view: NodeView) -> dict[str, JsonValue]:
    found: dict[str, JsonValue] = {
        # the ledger's state only where it says more than the shown one (burn-in: pending)
        "l": view.ledger_state if view.ledger_state != view.state else "",
        "t": when(view.since),
        "r": view.reason,
        "f": _findings(view.findings),
        "s": view.scheduler,
    }
    if view.incident is not None:
        found["i"] = _incident(report, view.incident)
    return {key: value for key, value in found.items() if value}


def _findings(findings: Sequence[Finding]) -> list[JsonValue]:
    return [[f.component, f.check, f.observed, f.expected, f.evidence] for f in findings]


def _incident(report: Report, incident: Incident) -> dict[str, JsonValue]:
    return {
        "id": incident.id,
        "status": incident.status,
        "opened": when(incident.opened_at),
        "drained": when(incident.drained_at),
        "scheduler": incident.scheduler,
        "action": incident.action,
        "domain": incident.domain,
        "breaker": incident.breaker,
        "href": evidence_uri(report, incident.bundle),
        "f": _findings(incident.findings),
    }

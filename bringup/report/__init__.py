"""What operators read off the plan and the ledger: the HTML report and the metrics.

`page.report_html` draws the self-contained page (rack elevations, the fabric, states,
incidents and capacity); `metrics` writes the same facts for Prometheus. Each module is
imported on its own, so that the metrics do not load the drawing.
"""

"""Quality beside money on the Executive and Portfolio pages: the flag of app/kpi/quality.py read
for the month (scenario A plus a November of 20 erroneous AI tasks, as in test_board_report.py)."""

from __future__ import annotations

from app.services.reporting import board_report
from dashboards.kpi import view as kv
from tests.kpi_scenarios import draft_company_with_costs, event, post_events, refresh


def _text(component) -> str:
    children = getattr(component, "children", None)
    if isinstance(children, list):
        return " ".join(_text(c) for c in children)
    return _text(children) if children is not None and not isinstance(children, str) else (children or "")


def test_a_feature_worse_than_its_baseline_is_flagged_with_its_reason(app, client, ingest_headers,
                                                                      admin_headers):
    draft_company_with_costs(client, ingest_headers, admin_headers)
    post_events(client, ingest_headers, [event("draft", "a", f"2026-11-{day:02d}T10:00:00Z", duration=300,
                                               outcome="error") for day in range(1, 21)])
    refresh()
    november = board_report.month_quality("2026-11")["draft"]
    # 20 errors of 20 judged tasks: Wilson's lower bound is far above any baseline below 0.8.
    assert november["flagged"] and november["error_rate"] == 1.0
    cell = kv.quality_cell(november)
    assert _text(cell) == "worse than baseline" and cell.title == november["reason"]
    october = board_report.month_quality("2026-10")["draft"]
    assert not october["flagged"]
    assert _text(kv.quality_cell(october)) == ("ok" if october["error_rate"] is not None else "—")


def test_no_outcome_reads_as_a_dash_not_ok():
    assert _text(kv.quality_cell(None)) == "—"
    assert _text(kv.quality_cell({"flagged": False, "error_rate": None})) == "—"

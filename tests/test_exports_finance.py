"""Exports for finance (issue 17.5): the XLSX read back with openpyxl (human headers, € and %
formats, widths, frozen header, one sheet per table and notes) and the CSV's human headers, on
scenario A of tests/kpi_scenarios.py (October 2026, hand-computed in tests/test_roi_monthly.py)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from app.db import db
from app.services.accounts.access import create_user
from dashboards.kpi.exports import register_exports
from dashboards.kpi.finance_workbook import EURO, PERCENT, human
from tests.kpi_scenarios import draft_company_with_costs

OCT_VALUE = 13 + 2 + 14 / 60 * 40
OCT_COST = 100 + 0.1 * 6
OCT_NET = OCT_VALUE - OCT_COST


@pytest.fixture
def client(app):
    register_exports(app)
    return app.test_client()


@pytest.fixture
def logged_in(app, client, ingest_headers, admin_headers):
    draft_company_with_costs(client, ingest_headers, admin_headers)
    user = create_user("cfo@exports.test", "executive", "long enough password")
    db.session.commit()
    with client.session_transaction() as session:
        session["user_id"] = user.id
    return client


def test_human_headers():
    assert human("net_eur") == "Net (€)" and human("roi_pct") == "ROI (%)"
    assert human("closed_net_eur") == "Net at close (€)" and human("closed_ai_tasks") == "AI tasks at close"


def test_the_workbook_reads_as_finance_expects(logged_in):
    response = logged_in.get("/dashboard/export/roi.xlsx?month=2026-10")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["ROI 2026-10", "History", "Quality", "Notes"]
    roi = book["ROI 2026-10"]
    header = [cell.value for cell in roi[1]]
    assert header[:6] == ["Month", "Feature key", "Feature", "Value (€)", "Cost (€)", "Cost per AI task (€)"]
    assert "ROI (%)" in header and "Net at close (€)" in header and "net_eur" not in header
    assert all(roi.freeze_panes == "A2" for roi in book.worksheets)
    rows = {r[1].value: r for r in roi.iter_rows(min_row=2)}
    net = rows["draft"][header.index("Net (€)")]
    assert net.value == pytest.approx(OCT_NET) and net.number_format == EURO
    roi_cell = rows["draft"][header.index("ROI (%)")]
    # The % format multiplies by 100: the cell holds the share, -75.8 % shows as -75.8 %.
    assert roi_cell.value == pytest.approx(OCT_NET / OCT_COST) and roi_cell.number_format == PERCENT
    assert rows["TOTAL"][header.index("Cost (€)")].value == pytest.approx(OCT_COST)
    assert rows["draft"][header.index("Payback month")].value is None  # not yet: an empty cell
    for letter in ("A", "C", "D"):
        assert roi.column_dimensions[letter].width >= 10
    assert roi["A1"].font.bold
    history = book["History"]
    assert [c.value for c in history[1]][:3] == ["Month", "Value (€)", "Cost (€)"]
    october = [r for r in history.iter_rows(min_row=2) if r[0].value == "2026-10"][0]
    assert october[2].value == pytest.approx(OCT_COST) and october[2].number_format == EURO
    quality = book["Quality"]
    assert [c.value for c in quality[1]] == ["Feature key", "Feature", "Error rate", "Baseline error rate",
                                             "Worse than baseline", "Why flagged", "Evidence", "Adoption"]
    (draft,) = list(quality.iter_rows(min_row=2))
    # October: 2 errors of 5 judged AI tasks; baseline 1 of 3; 3 of 3 exposed used it.
    assert draft[2].value == pytest.approx(0.4) and draft[2].number_format == PERCENT
    assert draft[3].value == pytest.approx(1 / 3) and draft[4].value == "no"
    assert draft[7].value == pytest.approx(1.0)
    notes = {r[0].value: r[1].value for r in book["Notes"].iter_rows(min_row=2)}
    assert notes["Month"] == "2026-10" and "Net ÷ cost" in notes["ROI"]
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and v in ("nan", "NaN", "None") for v in row)


def test_the_csv_keeps_machine_headers_and_offers_human_ones(logged_in):
    machine = logged_in.get("/dashboard/export/roi.csv?month=2026-10").get_data(as_text=True)
    assert machine.splitlines()[0].startswith("month,feature,name,value_eur,")
    text = logged_in.get("/dashboard/export/roi.csv?month=2026-10&headers=human").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0])[:4] == ["Month", "Feature key", "Feature", "Value (€)"]
    draft = next(r for r in rows if r["Feature key"] == "draft")
    assert float(draft["Net (€)"]) == pytest.approx(OCT_NET)
    assert float(draft["ROI (%)"]) == pytest.approx(OCT_NET / OCT_COST * 100)

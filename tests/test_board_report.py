"""The board report PDF, read back with pypdf, on scenario A of tests/kpi_scenarios.py plus a
November of 20 erroneous AI tasks (hand-computed below; see tests/test_roi_monthly.py)."""

from __future__ import annotations

import io
import os

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.db import db
from app.kpi import quality_flag
from app.models import Feature
from app.services.accounts.access import create_user
from app.services.reporting import board_pdf, monthly_report
from app.services.reporting.board_report import board_context, previous_month
from dashboards.kpi.exports import register_exports
from tests.helpers import gen_feature
from tests.kpi_scenarios import draft_company_with_costs, event, post_events, refresh

OCT_VALUE = 13 + 2 + 14 / 60 * 40
OCT_COST = 100 + 0.1 * 6
# November: 20 AI tasks of a (Sales, 60 EUR/h), 5 minutes against a 15-minute baseline, all errors.
NOV_VALUE = 20 * 10 / 60 * 60
NOV_COST = 0.1 * 20


@pytest.fixture
def client(app):
    register_exports(app)  # before the first request
    return app.test_client()


@pytest.fixture
def scenario(app, client, ingest_headers, admin_headers):
    app.config["COMPANY_NAME"] = "Northwind Demo"
    draft_company_with_costs(client, ingest_headers, admin_headers)
    rows = [event("draft", "a", f"2026-11-{day:02d}T10:00:00Z", duration=300, outcome="error")
            for day in range(1, 21)]
    post_events(client, ingest_headers, rows)
    refresh()


def pdf_text(data: bytes) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), reader


def squash(text: str) -> str:
    """One space between words: the figures' narrow no-break spaces and the table's line wraps alike."""
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def test_previous_month_crosses_the_year():
    assert previous_month("2026-01") == "2025-12" and previous_month("2026-11") == "2026-10"


def test_quality_flag_by_hand():
    # 20 errors of 20: the Wilson lower bound 1 / (1 + 1.96^2 / 20) = 0.8389 is above the baseline
    # 1/3's upper bound 0.7923 -> flagged; 2 of 5 (low 0.1176) is not.
    flagged = quality_flag({"error_rate": 1.0, "error_rate_ci_low": 0.8389, "error_rate_ci_high": 1.0,
                            "baseline_error_rate": 1 / 3, "baseline_error_rate_ci_low": 0.0615,
                            "baseline_error_rate_ci_high": 0.7923, "time_saved_evidence": "measured"})
    assert flagged["flagged"] and "beyond both intervals" in flagged["reason"]
    assert flagged["evidence"] == "measured"
    within = quality_flag({"error_rate": 0.4, "error_rate_ci_low": 0.1176, "error_rate_ci_high": 0.7693,
                           "baseline_error_rate": 0.05})
    assert within["flagged"]  # a recorded baseline has no interval: 0.1176 > 0.05
    assert not quality_flag({"error_rate": 0.4, "error_rate_ci_low": 0.1176, "error_rate_ci_high": 0.7693,
                             "baseline_error_rate": 0.2})["flagged"]
    assert quality_flag({})["flagged"] is False and quality_flag({})["reason"] is None


def test_the_context_has_the_kpi_modules_figures(scenario):
    report = board_context("2026-11")
    (draft,) = report.features
    assert draft["flagged"] is True and draft["error_rate"] == pytest.approx(1.0)
    assert draft["baseline_error_rate"] == pytest.approx(1 / 3) and draft["evidence"] == "measured"
    assert report.total["net_eur"] == pytest.approx(NOV_VALUE - NOV_COST)
    assert report.previous["net_eur"] == pytest.approx(OCT_VALUE - OCT_COST)
    # November: a and c exposed, a used it (1/2); October: a, b, c exposed and all used it.
    assert report.adoption == pytest.approx(0.5) and report.previous_adoption == pytest.approx(1.0)
    assert report.invested_eur == pytest.approx(OCT_COST + NOV_COST)
    october = board_context("2026-10").features[0]
    assert october["flagged"] is False  # 2 errors of 5 judged: within the baseline's interval


def test_the_pdf_reads_back_with_the_figures_charts_and_no_nan(scenario):
    data = board_pdf.board_pdf("2026-11")
    if os.environ.get("LIFTOFF_KEEP_REPORT"):  # to look at it: pdftoppm -png
        with open(os.environ["LIFTOFF_KEEP_REPORT"], "wb") as out:
            out.write(data)
    text, reader = pdf_text(data)
    flat = squash(text)
    assert reader.pages[0].mediabox.width == pytest.approx(595.27, abs=0.1)  # A4
    name = db.session.scalar(select(Feature.name).where(Feature.key == "draft"))
    for needle in ("Northwind Demo", "board report, 2026-11", name, "worse than baseline", "measured",
                   "Money invested so far", "Methods", "KPI refresh of", "ROI", "Adoption"):
        assert needle in flat, needle
    cumulative = OCT_VALUE - OCT_COST + NOV_VALUE - NOV_COST
    # Figures formatted by hand: € and a narrow space as thousands separator, no decimals.
    for figure in ("€ 200", "€ 2", "€ 198", "9900 %", "50 %", f"€ {round(cumulative)}",
                   f"€ {round(OCT_COST + NOV_COST)}", "2026-11"):
        assert figure in flat, figure
    assert "+€ 274 vs 2026-10" in flat  # net 198 - (-76.27)
    assert "−50 pts vs 2026-10" in flat  # adoption 50 % against 100 %
    for junk in ("nan", "NaN", "None"):
        assert junk not in text.replace("Northwind", ""), junk
    assert sum(len(page.images) for page in reader.pages) == 3  # the three charts


def test_a_feature_without_payback_beside_one_with_it_prints_not_yet(scenario, client, admin_headers):
    # pandas holds the missing payback of one feature beside another's month as NaN: never printed.
    gen_feature("later", name="Later feature")
    db.session.commit()
    cost = {"month": "2026-11", "amount_eur": 50, "category": "licences"}
    assert client.post("/api/v1/features/later/costs", json=cost, headers=admin_headers).status_code == 201
    refresh()
    text = squash(pdf_text(board_pdf.board_pdf("2026-11"))[0])
    assert "Later feature € 0 € 50 −€ 50 -100 % −€ 50 not yet — (—) — —" in text  # no events: no rates
    for junk in ("nan", "NaN", "None"):
        assert junk not in text, junk
    # The printable HTML report had the same NaN in its Payback column (issue 17).
    page = monthly_report.render(monthly_report.report_context("2026-11", "cfo@board.test"))
    assert ">nan<" not in page and "not yet" in page


def test_a_month_without_data_prints_dashes_not_nan(scenario):
    text, reader = pdf_text(board_pdf.board_pdf("2026-08"))
    assert "board report, 2026-08" in text and "—" in text
    for junk in ("nan", "NaN", "None"):
        assert junk not in text, junk


def test_the_download_needs_a_login_and_refuses_a_bad_month(scenario, client):
    assert client.get("/dashboard/report.pdf?month=2026-11").status_code == 401
    user = create_user("exec@board.test", "executive", "long enough password")
    db.session.commit()
    with client.session_transaction() as session:
        session["user_id"] = user.id
    response = client.get("/dashboard/report.pdf?month=2026-11")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="liftoff-board-report-2026-11.pdf"' in response.headers["Content-Disposition"]
    assert "board report, 2026-11" in pdf_text(response.data)[0]
    bad = client.get("/dashboard/report.pdf?month=2026-13")
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "month"

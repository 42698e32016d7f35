"""Variant columns in the exports and the board report (issue 18.5): the ROI CSV's group rows, the
workbook's Variants sheet and the board report's section, on the comparison test's company (two
variants of ``replies`` in October 2026), against figures computed here from the events."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from app.db import db
from app.services.accounts.access import create_user
from app.services.reporting import board_pdf, monthly_report, variant_tables
from app.services.reporting.board_report import board_context
from app.services.rollout import variants as variant_split
from dashboards.kpi.exports import register_exports
from tests.test_board_report import pdf_text, squash
from tests.test_variant_comparison import KEY, _expected, world  # noqa: F401  (the fixture)

MONTH = "2026-10"
RULE = {"control": "careful", "max_error_rate_increase": 0.02, "objective": "cost_per_task"}


@pytest.fixture
def ruled(world):  # noqa: F811
    """The world with a decision rule: careful is the control; fast errs clearly more often (the
    comparison test's events: 35 % errors against 15 %), so it cannot meet a 2-point margin."""
    variant_split.define(KEY, {"variants": [{"name": "careful", "weight": 50, "cost_per_task_eur": 0.10},
                                            {"name": "fast", "weight": 50}], "rule": RULE}, "ana")
    db.session.commit()
    return world


@pytest.fixture
def reader(app):
    register_exports(app)
    client = app.test_client()
    user = create_user("exec@variants.test", "executive", "long enough password")
    db.session.commit()
    with client.session_transaction() as session:
        session["user_id"] = user.id
    return client


def _want(people, events) -> dict[str, dict]:
    """Each variant's row as the exports must write it, from the comparison test's own computation."""
    out = {}
    for name, w in _expected(people, events).items():
        out[name] = {"weight": 50, "exposed_users": w["exposed"], "ai_tasks": len(w["saved"]),
                     "adoption_rate": w["active"] / w["exposed"], "error_rate": w["errors"] / w["rated"],
                     "time_saved_per_task_minutes": w["saved"].mean(), "cost_per_task_eur": w["cost"].mean(),
                     "net_eur_per_exposed_person": w["net"].mean(),
                     "decision": {"careful": "control", "fast": "does not meet the rule"}[name]}
    return out


def test_the_roi_csv_has_each_variant_as_a_group_row_below_its_feature(ruled, reader):
    want = _want(*ruled)
    text = reader.get(f"/dashboard/export/roi.csv?month={MONTH}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["feature"], r["variant"]) for r in rows] == [(KEY, ""), (KEY, "careful"), (KEY, "fast"),
                                                           ("TOTAL", "")]
    feature, *variants, total = rows
    assert feature["net_eur"] != "" and feature["variant_error_rate"] == ""
    for row in variants:
        assert (row["month"], row["name"], row["net_eur"], row["ai_tasks"]) == (MONTH, "Replies", "", "")
        w = want[row["variant"]]
        assert int(row["variant_weight"]) == w["weight"] and row["variant_decision"] == w["decision"]
        for field in ("exposed_users", "ai_tasks"):
            assert int(row[f"variant_{field}"]) == w[field]
        for field in ("adoption_rate", "error_rate", "time_saved_per_task_minutes", "cost_per_task_eur",
                      "net_eur_per_exposed_person"):
            assert float(row[f"variant_{field}"]) == pytest.approx(w[field]), field
    # The ROI columns summed over the file still give the total (the variant rows leave them empty).
    assert sum(float(r["ai_tasks"]) for r in rows[:-1] if r["ai_tasks"]) == float(total["ai_tasks"])
    human = reader.get(f"/dashboard/export/roi.csv?month={MONTH}&headers=human").get_data(as_text=True)
    header = human.splitlines()[0].split(",")
    assert header[-10:] == ["Variant", "Variant: Weight now (%)", "Variant: Exposed people",
                            "Variant: AI tasks", "Variant: Adoption", "Variant: Error rate",
                            "Variant: Minutes saved per task", "Variant: Cost per AI task (€)",
                            "Variant: Net per exposed person (€)", "Variant: Decision"]


def test_the_workbook_has_a_variants_sheet(ruled, reader):
    want = _want(*ruled)
    book = load_workbook(io.BytesIO(reader.get(f"/dashboard/export/roi.xlsx?month={MONTH}").data))
    sheet = book["Variants"]
    header = [c.value for c in sheet[1]]
    assert header == ["Feature key", "Feature", "Variant", "Weight now (%)", "Exposed people", "AI tasks",
                      "Adoption", "Error rate", "Minutes saved per task", "Cost per AI task (€)",
                      "Net per exposed person (€)", "Decision"]
    got = {row[2]: dict(zip(header, row, strict=True))
           for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(got) == {"careful", "fast"}
    for name, w in want.items():
        row = got[name]
        assert (row["Feature key"], row["Weight now (%)"], row["Decision"]) == (KEY, 50, w["decision"])
        assert (row["Exposed people"], row["AI tasks"]) == (w["exposed_users"], w["ai_tasks"])
        assert row["Error rate"] == pytest.approx(w["error_rate"])
        assert row["Cost per AI task (€)"] == pytest.approx(w["cost_per_task_eur"])
        assert row["Net per exposed person (€)"] == pytest.approx(w["net_eur_per_exposed_person"])
    assert sheet["J2"].number_format == '"€"#,##0.000' and sheet["H2"].number_format == "0.0%"
    assert any(row[0] == "Variants" for row in book["Notes"].iter_rows(values_only=True))


def test_the_board_report_says_the_decision_in_words(ruled):
    want = _want(*ruled)
    report = board_context(MONTH)
    assert [c["feature"] for c in report.variants] == [KEY]
    words = variant_tables.decision_words(report.variants[0])
    assert words == ("Rule: error rate at most 2.0 points worse than careful, and lower cost per task, "
                     "each with its 95 % interval. No variant meets it yet: keep the split, or wait for "
                     "more people.")
    text = squash(pdf_text(board_pdf.render_pdf(report))[0])
    assert "Variants" in text and "Replies (2026-10-01 to 2026-10-31)" in text
    assert squash(words) in text and "does not meet the rule" in text and "nan" not in text.lower()
    careful = want["careful"]
    assert f"{careful['error_rate'] * 100:.1f} %" in text  # the control's error rate, as printed
    # The one-page monthly report says the same decision in the same words.
    page = monthly_report.render(monthly_report.report_context(MONTH, "cfo@board.test"))
    assert "<h2>Variants</h2>" in page and words.replace("'", "&#39;") in page


def test_the_winner_is_named_with_the_figures_that_decide_it():
    def variant(name, cost, error, net):
        return {"variant": name, "suppressed": False, "cost_per_task_eur": cost, "error_rate": error,
                "net_eur_per_exposed_person": net}

    comparison = {"control": "large", "variants": [variant("large", 0.08, 0.06, 228.07),
                                                   variant("small", 0.0203, 0.055, 212.4)],
                  "decision": {"rule": {"control": "large", "max_error_rate_increase": 0.03,
                                        "objective": "cost_per_task"}, "meets": ["small"], "winner": "small"}}
    assert squash(variant_tables.decision_words(comparison)) == (
        "Rule: error rate at most 3.0 points worse than large, and lower cost per task, each with its 95 % "
        "interval. small meets it: cost per task € 0.020 against € 0.080, error rate 5.5 % against 6.0 %, "
        "net per exposed person € 212.40 against € 228.07. Promoting it is the product team's call.")
    assert [r["decision"] for r in variant_tables.rows([{**comparison, "feature": "f", "name": "F"}])] == [
        "control", "winner: meets the rule"]

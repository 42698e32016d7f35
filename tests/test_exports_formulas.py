"""Exports neutralise formulas (issue 14.5): every text cell of every CSV and XLSX that starts with
=, +, -, @, a tab or a carriage return gets a leading apostrophe; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from app.db import db
from app.services.accounts.access import create_user
from app.spreadsheets import csv_records, csv_text, neutralise, xlsx_row
from dashboards.kpi.exports import register_exports
from tests.enablement_builders import add_feedback, live_feature
from tests.helpers import gen_feature
from tests.kpi_scenarios import refresh

HOSTILE = ["=1+1", "+1", "-2", "@SUM(A1)", "\t=cmd|' /C calc'!A0", "\r=1+1", "\r\n=2"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_gets_an_apostrophe(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", " =1", "", "a=b", "'quoted", 0, -3, -2.5, 1e9, None, True])
def test_everything_else_is_left_alone(value):
    assert neutralise(value) is value


def test_csv_text_neutralises_header_and_cells_and_keeps_numbers():
    text = csv_text(["name", "=net"], [["\r=1+1", -12.5], [None, 3]])
    assert text == "name,'=net\r\n\"'\r=1+1\",-12.5\r\n,3\r\n"  # the CR inside quotes
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["name", "'=net"], ["'\r=1+1", "-12.5"], ["", "3"]]
    assert csv_records(["a", "b"], [{"a": "@x", "b": -1}]) == "a,b\r\n'@x,-1\r\n"


def test_xlsx_rows_drop_what_a_workbook_cannot_hold_before_neutralising():
    # "\x01=1+1" would become "=1+1" once the control character is dropped: it must still be quoted.
    assert xlsx_row(["\x01=1+1", "ok\x0b", -4, None]) == ["'=1+1", "ok", -4, None]
    book = Workbook()
    book.active.append(xlsx_row(HOSTILE + [-7.5]))
    out = io.BytesIO()
    book.save(out)
    row = next(load_workbook(out).active.iter_rows(values_only=True))
    assert row[:4] == ("'=1+1", "'+1", "'-2", "'@SUM(A1)")
    assert row[-1] == -7.5


@pytest.fixture
def client(app):
    register_exports(app)
    return app.test_client()


def _log_in(client) -> None:
    user = create_user("exec@exports.test", "executive", "long enough password")
    db.session.commit()
    with client.session_transaction() as session:
        session["user_id"] = user.id


def test_roi_csv_and_xlsx_quote_formula_names_and_keep_negative_numbers(app, client, admin_headers):
    gen_feature("tab", name="\t=cmd|' /C calc'!A0")
    gen_feature("cr", name="\r=1+1")
    db.session.commit()
    for key in ("tab", "cr"):
        cost = {"month": "2026-10", "amount_eur": 100, "category": "licences"}
        response = client.post(f"/api/v1/features/{key}/costs", json=cost, headers=admin_headers)
        assert response.status_code == 201
    refresh()
    _log_in(client)
    text = client.get("/dashboard/export/roi.csv?month=2026-10").get_data(as_text=True)
    rows = {row["feature"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}
    assert rows["tab"]["name"] == "'\t=cmd|' /C calc'!A0" and rows["cr"]["name"] == "'\r=1+1"
    assert float(rows["tab"]["net_eur"]) == -100.0  # a number, not quoted text
    assert float(rows["TOTAL"]["net_eur"]) == -200.0
    book = load_workbook(io.BytesIO(client.get("/dashboard/export/roi.xlsx?month=2026-10").data))
    sheet = book["ROI 2026-10"]
    header = [cell.value for cell in sheet[1]]  # human headers since issue 17
    by_key = {row[header.index("Feature key")]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert by_key["cr"][header.index("Feature")].startswith("'")
    assert by_key["tab"][header.index("Feature")].startswith("'\t=")
    assert by_key["TOTAL"][header.index("Net (€)")] == -200.0
    quality = {row[0]: row for row in book["Quality"].iter_rows(min_row=2, values_only=True)}
    assert quality["cr"][1].startswith("'") and quality["tab"][1].startswith("'\t=")


def test_the_corrections_csv_quotes_every_formula_like_comment(app, client, admin_headers):
    feature, members, _ = live_feature(people=1)
    for comment in HOSTILE:
        add_feedback(feature, members[0], 2, category="correction", comment=comment)
    db.session.commit()
    response = client.get(f"/api/v1/features/{feature.key}/corrections?format=csv", headers=admin_headers)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert [row["comment"] for row in rows] == ["'" + text for text in HOSTILE]
    assert {row["rating"] for row in rows} == {"2"}

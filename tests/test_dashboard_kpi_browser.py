"""The executive, adoption and quality pages in headless Chromium, against `liftoff serve` in a
subprocess, on the demo company (`liftoff seed` + `liftoff jobs run refresh-kpis`) with September
closed and then restated by a late cost. Screenshots go to test-artifacts/."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import requests

from app.db import db
from app.models import CostEntry, Feature
from app.services.accounts.access import create_token, create_user
from app.services.reporting.closes import check_restatements, close_month
from tests.dashboard_support import (
    ARTIFACTS,
    PASSWORD,
    DashboardServer,
    chromium,
    email_for,
    liftoff,
    module_database,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo company, refreshed; September closed, then restated by a late licence invoice."""
    workdir = tmp_path_factory.mktemp("kpi-dashboard")
    with module_database(workdir, "kpidash") as (url, app):
        # The generated calendar (May to October 2026) without the story's closes: the months
        # below are pinned to it.
        liftoff(url, "seed", "--fixed-dates", "--without-story")
        liftoff(url, "jobs", "run", "refresh-kpis")
        with app.app_context():
            create_user(email_for("executive"), "executive", PASSWORD)
            _, api_secret = create_token("admin", name="kpi browser test")
            close_month("2026-08")
            close_month("2026-09")
            quote = db.session.scalar(db.select(Feature).where(Feature.key == "quote-assistant"))
            db.session.add(CostEntry(feature_id=quote.id, month="2026-09", amount_eur=1234.5,
                                     category="licences"))
            db.session.flush()
            assert check_restatements() == 1
            db.session.commit()
        yield {"url": url, "workdir": workdir, "api": api_secret}


@pytest.fixture(scope="module")
def server(demo):
    served = DashboardServer(demo["url"], demo["workdir"])
    yield served
    served.close()


@pytest.fixture(scope="module")
def page(server):
    """One executive session (1366x768) for the module: logging in is slow (scrypt)."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        tab.goto(server.url + "/dashboard/executive?month=2026-10")
        tab.fill("#email", email_for("executive"))
        tab.fill("#password", PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_url(re.compile(r"/dashboard/executive\?month=2026-10$"))
        yield tab


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    return path


def roi_api(server, demo, month: str) -> dict:
    response = requests.get(f"{server.url}/api/v1/roi/monthly", params={"month": month},
                            headers={"Authorization": f"Bearer {demo['api']}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def test_switch_the_month_and_export_it(page, server, demo):
    page.wait_for_selector("#exec-features")
    october_net = page.inner_text("#exec-net")
    assert "quote-assistant" in page.inner_text("#exec-features")
    page.wait_for_selector("#exec-cumulative .main-svg")
    shot(page, "executive")

    page.click("#exec-month-picker")
    page.get_by_role("option", name="2026-09", exact=True).click()
    page.wait_for_url(re.compile(r"/dashboard/executive\?month=2026-09$"))
    page.wait_for_selector("#exec-restated")
    assert page.inner_text("#exec-net") != october_net
    assert "closed:" in page.inner_text("#exec-cost")  # live and closed figures side by side
    assert "NET AT CLOSE" in page.inner_text("#exec-features").upper()
    shot(page, "executive-restated")

    with page.expect_download() as download:
        page.click("#exec-export-csv")
    rows = list(csv.DictReader(Path(download.value.path()).open()))
    api = roi_api(server, demo, "2026-09")
    by_key = {row["feature"]: row for row in rows}
    assert set(by_key) == {f["feature"] for f in api["features"]} | {"TOTAL"}
    for figures in [*api["features"], {"feature": "TOTAL", **api["total"]}]:
        row = by_key[figures["feature"]]
        for field in ("value_eur", "cost_eur", "net_eur", "cumulative_net_eur"):
            assert float(row[field]) == pytest.approx(figures[field])
        assert row["ai_tasks"] == str(figures["ai_tasks"])
    assert by_key["TOTAL"]["restated"] == "True" and api["restated"] is True
    closed_cost = api["closed_figures"]["total"]["cost_eur"]
    assert float(by_key["TOTAL"]["closed_cost_eur"]) == pytest.approx(closed_cost)
    assert float(by_key["TOTAL"]["cost_eur"]) == pytest.approx(closed_cost + 1234.5)


def test_drill_into_a_features_adoption(page, server):
    page.goto(server.url + "/dashboard/executive?month=2026-10")
    page.wait_for_selector("#exec-features")
    page.click("#exec-open-quote-assistant")
    page.wait_for_url(re.compile(r"/dashboard/adoption\?feature=quote-assistant&month=2026-10$"))
    page.wait_for_selector("#adoption-groups")
    groups = page.inner_text("#adoption-groups")
    assert "1. Champions" in groups and "fewer than 5" in groups  # 2 sales champions
    # The pilot's 8 are hidden too: shown, they and the total would give the 2 champions away.
    assert re.search(r"2\. Pilot\s+hidden for privacy", groups), groups.replace("\n", " | ")
    assert page.inner_text("#adoption-exposed").split("\n")[1] == "42"
    page.wait_for_selector("#adoption-heatmap .main-svg")
    page.wait_for_selector("#adoption-trend .main-svg")
    shot(page, "adoption")


def test_quality_and_the_printable_report(page, server):
    page.goto(server.url + "/dashboard/quality?feature=cv-screening-assistant&month=2026-09")
    page.wait_for_selector("#quality-evidence")
    assert "Mixed" in page.inner_text("#quality-evidence")
    assert "worse" in page.inner_text("#quality-baseline")  # more corrections than by hand
    # Nobody has reviewed this company's outputs: the tile says so instead of a number.
    assert "no reviewed outputs yet" in page.inner_text("#quality-reviewed")
    page.wait_for_selector("#quality-error-trend .main-svg")
    shot(page, "quality")
    page.goto(server.url + "/dashboard/report?month=2026-09")
    assert "restated after close" in page.inner_text("#report-status")
    assert page.locator("#report-features tbody tr").count() == 3
    shot(page, "report")


def test_an_executive_subscribes_to_the_report_by_email(page, server):
    page.goto(server.url + "/dashboard/executive?month=2026-10")
    box = page.get_by_label("E-mail me this report at each monthly close")
    assert not box.is_checked()
    box.check()
    page.wait_for_selector("#exec-subscribe-done")
    assert email_for("executive") in page.inner_text("#exec-subscribe-done")
    shot(page, "executive-subscribed")
    page.reload()  # the server kept it
    box = page.get_by_label("E-mail me this report at each monthly close")
    box.wait_for()
    assert box.is_checked()
    box.uncheck()
    page.wait_for_selector("#exec-subscribe-done:has-text('Unsubscribed')")

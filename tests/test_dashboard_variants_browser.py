"""The Compare variants page in headless Chromium against `liftoff serve`, on the demo company with
variants given to its quote assistant since August: the comparison, the sample-ratio check, the
trends, and a promotion through the confirm dialog. Screenshots at 1440 and 390 px go to
test-artifacts/."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.db import db
from app.models import FeatureVariant
from app.services.accounts.access import create_user
from app.services.rollout import variants
from tests.dashboard_support import (
    ARTIFACTS,
    PASSWORD,
    DashboardServer,
    chromium,
    email_for,
    liftoff,
    module_database,
)
from tests.test_dashboard_walk_browser import axe_script, problems, settle  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000
PAGE = "/dashboard/variants?feature=quote-assistant&month=2026-10"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("variants-dashboard")
    with module_database(workdir, "variantsdash") as (url, app):
        liftoff(url, "seed")
        with app.app_context():
            create_user(email_for("product"), "product", PASSWORD)
            variants.define("quote-assistant", {
                "variants": [{"name": "gpt-large", "weight": 50, "payload": {"model": "large"},
                              "cost_per_task_eur": 0.06},
                             {"name": "small-model", "weight": 50, "payload": {"model": "small"},
                              "cost_per_task_eur": 0.01}],
                "rule": {"control": "gpt-large", "max_error_rate_increase": 0.02,
                         "objective": "cost_per_task"},
            }, "seed", datetime(2026, 8, 1, tzinfo=UTC))
            db.session.commit()
        liftoff(url, "jobs", "run", "refresh-kpis")
        yield {"url": url, "workdir": workdir, "app": app}


@pytest.fixture(scope="module")
def server(demo):
    served = DashboardServer(demo["url"], demo["workdir"])
    yield served
    served.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000


def test_compare_and_promote_a_variant(server, demo, axe_script):  # noqa: F811
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(server.url + PAGE)
        page.fill("#email", email_for("product"))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/dashboard/variants\?"))
        page.wait_for_selector("#variants-figures")
        page.wait_for_selector("#variants-error-trend .main-svg")
        text = page.inner_text("#variants-body")
        assert "gpt-large" in text and "small-model" in text and "nan" not in text.lower()
        assert "Rule: error rate at most 2.0 points worse" in text
        assert page.inner_text("#variants-srm-verdict")
        settle(page)
        shot(page, "variants-1440")
        found = problems(page, axe_script)
        page.set_viewport_size({"width": 390, "height": 844})
        settle(page)
        shot(page, "variants-390")
        found += problems(page, axe_script)
        assert not found, "\n".join(found)
        page.set_viewport_size({"width": 1440, "height": 900})

        page.click("#variants-promote")
        page.wait_for_selector("#variants-dialog.lo-dialog-open")
        page.fill("#variants-reason", "cheaper at the same error rate")
        page.click("#variants-confirm")
        page.wait_for_selector("#variants-done")
    with demo["app"].app_context():
        weights = dict(db.session.execute(db.select(FeatureVariant.name, FeatureVariant.weight)).all())
    assert sorted(weights.values()) == [0, 100]

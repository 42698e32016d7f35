"""The Compare variants page in headless Chromium against `liftoff serve`, on the demo company with
variants given to its quote assistant since August: the comparison, the sample-ratio check, the
trends, a promotion through the confirm dialog, and variants defined and re-weighted through the
page's form. Screenshots at 1440 and 390 px, as a product team and as an executive, go to
test-artifacts/."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from app.db import db
from app.models import Feature, FeatureVariant
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
            create_user(email_for("executive"), "executive", PASSWORD)
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
    assert sorted(_weights(demo, "quote-assistant").values()) == [0, 100]


def _weights(demo, key: str) -> dict[str, int]:
    with demo["app"].app_context():
        return dict(db.session.execute(
            db.select(FeatureVariant.name, FeatureVariant.weight)
            .join(Feature, Feature.id == FeatureVariant.feature_id).where(Feature.key == key)
            .order_by(FeatureVariant.position)).all())


def _row(field: str, row: int) -> str:
    """The selector of a form row's control (Dash writes a dict id as sorted, compact JSON)."""
    return f"[id='{json.dumps({'row': row, 'type': f'variants-row-{field}'}, separators=(',', ':'))}']"


def _sum_shows(page, text: str) -> None:
    shown = "document.querySelector('#variants-define-sum').innerText"
    page.wait_for_function(f"() => {shown}.includes('{text}')")


def _log_in(browser, server, role: str, path: str, width: int = 1440):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(server.url + path)
    page.fill("#email", email_for(role))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/variants"))
    return page


def test_a_product_team_defines_and_reweights_variants_in_the_form(server, demo):
    with chromium() as browser:
        page = _log_in(browser, server, "product", "/dashboard/variants?feature=knowledge-assistant")
        assert "has no variants" in page.inner_text("#variants-empty")
        page.wait_for_selector(_row("name", 1))
        page.fill(_row("name", 0), "large-model")
        page.fill(_row("weight", 0), "60")
        page.fill(_row("payload", 0), '{"vendor": "openai", "model": "large"}')
        page.fill(_row("cost", 0), "0.06")
        page.fill(_row("name", 1), "small-model")
        page.fill(_row("weight", 1), "30")
        _sum_shows(page, "90 %")
        assert "must sum to 100" in page.inner_text("#variants-define-sum")
        page.click("#variants-define-save")
        page.wait_for_selector("#variants-define-error")
        assert "the weights must sum to 100, not 90" in page.inner_text("#variants-define-error")
        # A third row with a payload that is no JSON: refused beside that row, then removed.
        page.click("#variants-define-add")
        page.wait_for_selector(_row("name", 2))
        assert page.input_value(_row("name", 0)) == "large-model"  # what was typed stays
        page.fill(_row("name", 2), "tiny")
        page.fill(_row("weight", 2), "10")
        page.fill(_row("payload", 2), "{not json")
        page.click("#variants-define-save")
        page.locator(_row("error", 2)).filter(has_text="payload").wait_for()
        assert page.inner_text(_row("error", 0)) == ""
        page.click(_row("remove", 2))
        page.wait_for_selector(_row("name", 2), state="detached")
        page.fill(_row("weight", 1), "40")
        _sum_shows(page, "100 %")
        page.fill("#variants-define-reason", "a cheaper model on 40 % of the people")
        page.click("#variants-define-save")
        page.wait_for_selector("#variants-figures")  # the page now shows the feature's comparison
        assert _weights(demo, "knowledge-assistant") == {"large-model": 60, "small-model": 40}

        # Re-weighting moves people: the form asks first, naming the change.
        page.wait_for_selector(_row("name", 1))
        assert page.is_disabled(_row("name", 0))  # a recorded variant keeps its name
        page.fill(_row("weight", 0), "50")
        page.fill(_row("weight", 1), "50")
        page.click("#variants-define-save")
        page.wait_for_selector("#variants-define-dialog.lo-dialog-open")
        assert "large-model 60 % → 50 %" in page.inner_text("#variants-define-dialog-text")
        page.click("#variants-define-confirm")
        page.wait_for_selector("#variants-define-done")
        assert _weights(demo, "knowledge-assistant") == {"large-model": 50, "small-model": 50}


def test_the_page_as_a_product_team_and_as_an_executive(server, axe_script):  # noqa: F811
    """The demo's code-review assistant over the last complete month: the product team gets the
    form, the executive the figures and a line saying who may change variants."""
    month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    path = f"/dashboard/variants?feature=code-review-assistant&month={month}"
    found = []
    with chromium() as browser:
        for role in ("product", "executive"):
            page = _log_in(browser, server, role, path)
            page.wait_for_selector("#variants-figures")
            page.wait_for_selector("#variants-error-trend .main-svg")
            page.wait_for_selector("#variants-define-card")
            if role == "product":
                page.wait_for_selector(_row("name", 1))
                assert page.input_value(_row("name", 1)) == "small-model"
                assert "Winner: small-model" in page.inner_text("#variants-decision-card")
            else:
                assert page.query_selector("#variants-define-save") is None
                assert "product teams and admins" in page.inner_text("#variants-define-refused")
            for width in (1440, 390):
                page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
                settle(page)
                shot(page, f"variants-{role}-{width}")
                found += [f"{role} at {width}: {p}" for p in problems(page, axe_script)]
    assert not found, "\n".join(found)

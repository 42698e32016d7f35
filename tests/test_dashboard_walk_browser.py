"""Every dashboard page, for every role, on a laptop (1440x900) and on a phone (390x844), in headless
Chromium against `liftoff serve` on the demo company: no horizontal page scroll, no `nan`/`None`/
`undefined` in the text, and no serious or critical axe-core violation. Screenshots of each page go
to test-artifacts/walk-<role>-<page>-<width>.png."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.services.accounts.access import create_user
from tests import npm_cache
from tests.dashboard_support import (
    ARTIFACTS,
    PASSWORD,
    ROLES,
    DashboardServer,
    email_for,
    liftoff,
    module_database,
)
from tests.test_dashboard_browser import browser  # noqa: F401  (the shared Chromium)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE_VERSION = "4.11.0"
PAGES = ("", "executive", "adoption", "quality", "rollout", "variants", "enablement", "operations",
         "review", "people", "admin")
SIZES = ((1440, 900), (390, 844))
# Words that only reach a page when a missing value was rendered as text.
JUNK = re.compile(r"\b(nan|NaN|None|undefined)\b")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo company as `make demo` makes it (history up to yesterday, the story told on top),
    refreshed, with a user for every role."""
    workdir = tmp_path_factory.mktemp("walk")
    with module_database(workdir, "walk") as (url, app):
        liftoff(url, "seed")
        liftoff(url, "jobs", "run", "refresh-kpis")
        with app.app_context():
            for role in ROLES:
                create_user(email_for(role), role, PASSWORD)
            from app.db import db

            db.session.commit()
        yield {"url": url, "workdir": workdir}


@pytest.fixture(scope="module")
def server(demo):
    served = DashboardServer(demo["url"], demo["workdir"])
    yield served
    served.close()


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return npm_cache.install("axe-core", AXE_VERSION) / "node_modules" / "axe-core" / "axe.min.js"


# True once Dash has the layout and no callback is requested, running or waiting to be applied
# (the renderer's own store, as dash.testing reads it) and no component shows a loading state.
RENDERED = """() => {
  const store = window.store;
  if (!store || document.querySelector('._dash-loading, [data-dash-is-loading=true]')) return false;
  const state = store.getState();
  if (state.isLoading) return false;
  return Object.entries(state.callbacks || {})
    .every(([kind, queue]) => kind === 'stored' || kind === 'completed' || !queue.length);
}"""
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def settle(page) -> None:
    """Wait until Dash has rendered the page: every callback answered and applied, then two frames
    (plotly sizes its charts on the next one), then once more in case a render started a callback."""
    for _ in range(2):
        page.wait_for_function(RENDERED, polling=50)
        page.evaluate(NEXT_FRAMES)


def problems(page, axe_script: Path) -> list[str]:
    found = []
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        found.append(f"horizontal scroll: {width[0]} px wide in a {width[1]} px window")
    text = page.inner_text("body")
    found += [f"{m.group(0)!r} in the text: …{text[max(0, m.start() - 40):m.end() + 40]}…"
              for m in JUNK.finditer(text)]
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    for violation in json.loads(result):
        if violation["impact"] in ("serious", "critical"):
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
            found.append(f"axe {violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_page_reads_on_a_laptop_and_a_phone(browser, server, axe_script, role):  # noqa: F811
    context = browser.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(server.url + "/dashboard/")
        page.fill("#email", email_for(role))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/dashboard/$"))
        ARTIFACTS.mkdir(exist_ok=True)
        failures = []
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            for name in PAGES:
                page.goto(f"{server.url}/dashboard/{name}")
                settle(page)
                page.screenshot(path=str(ARTIFACTS / f"walk-{role}-{name or 'portfolio'}-{width}.png"),
                                full_page=True)
                failures += [f"{name or 'portfolio'} at {width} px: {p}" for p in problems(page, axe_script)]
        assert not failures, "\n".join(failures)
    finally:
        context.close()


def _period_spans(day: date) -> tuple[str, str, str, str]:
    """The month of ``day``, the month before, year to date and the as many months before it, as
    the period card writes them (worked out here from month numbers, not by the page's code)."""
    def name(index: int) -> str:
        return f"{index // 12:04d}-{index % 12 + 1:02d}"

    def span(first: int, last: int) -> str:
        return name(first) if first == last else f"{name(first)} to {name(last)}"

    month = day.year * 12 + day.month - 1
    january = day.year * 12
    length = month - january + 1
    return (name(month), name(month - 1), span(january, month),
            span(january - length, january - 1))


def test_phone_menu_bad_month_dialog_focus_and_dark_theme(browser, server):  # noqa: F811
    """At 390 px the menu button opens the navigation and Log out; a bad month says so; the rollout
    dialog takes the focus and Esc closes it; the dark theme follows the system setting; the period
    presets re-render the period card."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(server.url + "/dashboard/executive?month=2026-13")
        page.fill("#email", email_for("admin"))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#exec-bad-month")
        assert "not a month" in page.inner_text("#exec-bad-month")
        assert not page.is_visible("#nav-logout")  # folded behind the menu button
        page.click("#nav-menu-button")
        assert page.get_attribute("#nav-menu-button", "aria-expanded") == "true"
        assert page.is_visible("#nav-logout") and page.is_visible("#nav-menu a[href$='/quality']")
        # Dark theme: the page background is the dark token, not white.
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 21, 29)"
        # The period card opens on the latest month with events (the demo's history ends yesterday),
        # against the month before; year to date is against as many months before it.
        latest, previous, ytd, before = _period_spans(date.today() - timedelta(days=1))
        page.wait_for_selector(f"#exec-period-span:has-text('{latest}, against {previous}')")
        page.get_by_text("Year to date").click()
        page.wait_for_selector(f"#exec-period-span:has-text('{ytd}, against {before}')")
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "walk-phone-menu-dark.png"), full_page=True)

        page.goto(server.url + "/dashboard/rollout?feature=quote-assistant")
        settle(page)
        page.click("#rollout-kill")  # the demo's quote assistant is live: kill is offered
        page.wait_for_selector("#rollout-dialog.lo-dialog-open")
        page.wait_for_function("() => document.activeElement?.id === 'rollout-reason'")
        page.keyboard.press("Escape")
        page.wait_for_selector("#rollout-dialog:not(.lo-dialog-open)", state="attached")
        assert not page.is_visible("#rollout-dialog .lo-dialog-box")
    finally:
        context.close()

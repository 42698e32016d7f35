"""The Dash app at /dashboard/, mounted inside the Flask app and behind its login.

Dash keeps pages and callbacks in module-level registries, so a process holds exactly one Dash
app: ``init_dash`` mounts it once and refuses a second Flask app (tests use SKIP_DASH=True).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

URL_BASE = "/dashboard/"
# Dash's own page, with the language screen readers need (Dash adds the viewport meta itself).
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
ASSETS = Path(__file__).resolve().parent / "assets"

_mounted: dict = {}  # "dash" -> the one Dash app of this process


def init_dash(app: Flask):
    """Mount the dashboard on ``app`` at /dashboard/, every route behind the login check."""
    existing = _mounted.get("dash")
    if existing is not None:
        if existing.server is app:
            return existing
        raise RuntimeError(
            "the Dash dashboard is already mounted on another Flask app in this process; "
            "Dash allows one app per process (create further apps with SKIP_DASH=True)"
        )

    import dash

    from dashboards.shell.callback_inputs import first_query_values
    from dashboards.shell.frame import shell_layout
    from dashboards.shell.guard import CSRF_COOKIE, LiftoffDash, protect_dash_routes

    dash_app = LiftoffDash(
        __name__,
        # Dash's docs take a server instance here; its annotation names only bool or a factory.
        server=app,  # type: ignore[arg-type]
        url_base_pathname=URL_BASE,
        use_pages=True,
        pages_folder="",  # pages register themselves when imported below
        assets_folder=str(ASSETS),
        serve_locally=True,
        suppress_callback_exceptions=True,  # page components exist only while their page shows
        title="Liftoff",
        index_string=INDEX_STRING,
        # None keeps the tab's title while callbacks run (Dash's docs); its annotation says str only.
        update_title=None,  # type: ignore[arg-type]
        csrf_token_name=CSRF_COOKIE,
    )
    _mounted["dash"] = dash_app

    import dashboards.admin.page  # noqa: F401
    import dashboards.enablement.page  # noqa: F401
    import dashboards.kpi.adoption_page  # noqa: F401
    import dashboards.kpi.executive_page  # noqa: F401
    import dashboards.kpi.quality_page  # noqa: F401
    import dashboards.operations.page  # noqa: F401
    import dashboards.people.page  # noqa: F401
    import dashboards.review.page  # noqa: F401
    import dashboards.rollout.page  # noqa: F401
    import dashboards.rollout.portfolio_page  # noqa: F401
    import dashboards.variants.page  # noqa: F401
    # Dash's routing hands a layout a list for a query parameter the URL repeats; pages take one.
    for page in dash.page_registry.values():
        page["layout"] = first_query_values(page["layout"])
    from dashboards.shell.frame import guard_page_layouts

    guard_page_layouts()  # each role sees only the pages it may use (frame.py)
    from dashboards.kpi.exports import register_exports

    register_exports(app)

    dash_app.layout = shell_layout
    protect_dash_routes(app, URL_BASE, dash_app)
    from dashboards.kpi import warm

    # On the first request, not here: a server that forks its workers after loading the app
    # (gunicorn --preload) would lose a thread started before the fork.
    app.before_request(lambda: warm.start(app))
    return dash_app

"""Liftoff: staged AI-feature rollouts, KPIs and ROI. ``create_app`` is the table of contents."""

from __future__ import annotations

from flask import Flask

from app import config


def create_app(overrides: dict | None = None) -> Flask:
    """Build the web app: config, database, security, API, Unleash client API, pages, Dash, CLI."""
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR))
    from app.json_provider import FiniteJSONProvider

    app.json = FiniteJSONProvider(app)  # no NaN or Infinity in or out
    app.config.from_mapping(config.load())
    if overrides:
        app.config.from_mapping(overrides)
    from app import observability

    observability.configure_logging()  # human-readable, or JSON lines with LIFTOFF_LOG_FORMAT=json

    from app.db import db

    config.engine_options(app.config)
    db.init_app(app)
    from app.services.kpi_reads import revision as kpi_revision

    kpi_revision.init_app(app)  # each commit that writes a KPI input bumps the KPI caches' revision

    from app import web

    web.init_app(app)  # login, CSRF, security headers, /healthz

    from app import api

    api.register(app)  # /api/v1

    from app.flags import client_api

    client_api.register(app)  # /api/client for Unleash SDKs
    from app.flags.fast_path import FeaturePollShortcut

    # SDK polls skip Flask when the caches are warm, with the headers Flask would have added
    shortcut = FeaturePollShortcut(app.wsgi_app, app, web.security_headers(app.config))
    app.wsgi_app = shortcut  # type: ignore[method-assign]  # Flask's middleware idiom
    app.extensions["liftoff_poll_shortcut"] = shortcut  # the ASGI front (app/asgi.py) asks it too
    from app.flags import frontend_api

    frontend_api.register(app)  # /api/frontend for browser and mobile apps
    web.exempt_from_form_csrf(api.bp)
    web.exempt_from_form_csrf(client_api.bp)
    web.exempt_from_form_csrf(frontend_api.bp)

    if not app.config.get("SKIP_DASH"):
        from dashboards import init_dash

        init_dash(app)  # /dashboard/ behind the login

    from app.jobs.connect import connect_services

    connect_services()  # the API, the CLI and the dashboard reach the jobs through a service
    from app import cli

    cli.register(app)
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address as the trusted proxies saw it (login throttle, /metrics allow list).
        # Only X-Forwarded-For, which a proxy appends to: a Host or scheme header a client sent
        # through a proxy that does not overwrite it would be trusted too.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's middleware idiom
            app.wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0)
    observability.init_app(app)  # request ids, latency metrics, /metrics (outermost WSGI layer)
    return app

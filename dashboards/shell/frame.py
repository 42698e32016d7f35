"""The frame around every page: the navigation bar with the user, their role and logout, and the
role check in front of every page.

A page declares the permission it needs to be seen (``dash.register_page(..., permission=...)``,
``read`` when it says nothing); the bar lists only the pages the user's role may see, and a page
reached by its URL anyway shows why it is not there instead of its layout."""

from __future__ import annotations

import functools

import dash
from dash import ALL, Input, Output, State, clientside_callback, dcc, html
from flask_wtf.csrf import generate_csrf

from app.security import Identity, current_identity, roles_with, user_may
from dashboards import URL_BASE
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import SEARCH, accepts, path_under

DEFAULT_PAGE_PERMISSION = "read"


def role_label(role: str | None) -> str:
    """A role as people read it: ``change_manager`` -> ``Change manager`` (no list of roles here)."""
    return (role or "").replace("_", " ").capitalize()


def page_permission(page: dict) -> str:
    """The permission a registered page needs to be seen."""
    return page.get("permission", DEFAULT_PAGE_PERMISSION)


def may_see(identity: Identity | None, page: dict) -> bool:
    return user_may(identity, page_permission(page))


def roles_text(permission: str) -> str:
    """``operations:read`` -> ``admins and product teams``-style words: who may see a page."""
    plural = {"admin": "admins", "product": "product teams", "change_manager": "change managers",
              "executive": "executives"}
    names = [plural.get(role, role) for role in sorted(roles_with(permission))]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def not_available(page: dict, identity: Identity | None) -> html.Div:
    """What a page's URL shows to a role that may not use it: where the user is, and why not."""
    return html.Div([
        html.Div(html.Div([html.H1(page["name"])]), className="lo-page-head"),
        ui.alert([
            html.Strong(f"The {page['name']} page is not available to your role "
                        f"({role_label(identity.role if identity else None)}). "),
            f"It is for {roles_text(page_permission(page))}. Ask an admin if you need it.",
        ], "info", alert_id="page-not-available"),
        dcc.Link("Back to the portfolio", href=dash.get_relative_path("/"), className="lo-btn lo-btn-ghost"),
    ])


def guard_page_layouts() -> None:
    """Put the role check in front of every registered page's layout (once, at mounting)."""
    for page in dash.page_registry.values():
        if getattr(page["layout"], "liftoff_role_checked", False):
            continue
        page["layout"] = _role_checked(page, page["layout"])


def _role_checked(page: dict, layout):
    @functools.wraps(layout)
    def checked(**params):
        identity = current_identity()
        if not may_see(identity, page):
            return not_available(page, identity)
        return layout(**params)

    # A mark on the function (vars(): its type, functools.wraps' wrapper, declares no such attribute).
    vars(checked).update(liftoff_role_checked=True)
    return checked


def navbar(identity: Identity | None) -> html.Header:
    links = [
        dcc.Link(page["name"], href=page["relative_path"], className="lo-nav-link",
                 id={"role": "nav-link", "path": page["relative_path"]})
        for page in dash.page_registry.values() if may_see(identity, page)
    ]
    user = []
    if identity is not None:
        user = [
            html.Span(identity.name, className="lo-user-email", id="nav-user-email"),
            html.Span(role_label(identity.role),
                      className=f"lo-badge lo-role-{identity.role}", id="nav-user-role"),
            # A plain form: the browser posts it with the session cookie and the CSRF token.
            html.Form(
                [
                    dcc.Input(type="hidden", name="csrf_token", value=generate_csrf(), id="nav-csrf"),
                    html.Button("Log out", type="submit", className="lo-btn lo-btn-ghost lo-btn-sm",
                                id="nav-logout"),
                ],
                action="/logout",
                method="post",
                className="lo-logout",
            ),
        ]
    return html.Header(
        html.Div(
            [
                dcc.Link([html.Span("▲", className="lo-logo-mark"), " Liftoff"],
                         href=dash.get_relative_path("/"), className="lo-brand"),
                # On a phone the links and the user fold behind this button (assets/liftoff-a11y.js
                # toggles it in the browser: no round trip to open a menu).
                html.Button("Menu", type="button", id="nav-menu-button", className="lo-menu-button",
                            **ui.attributes({"aria-expanded": "false", "aria-controls": "nav-menu"})),
                html.Div([
                    html.Nav(links, className="lo-nav", **ui.attributes({"aria-label": "Pages"})),
                    html.Div(user, className="lo-user"),
                ], id="nav-menu", className="lo-nav-panel"),
            ],
            className="lo-navbar-inner",
        ),
        className="lo-navbar",
    )


def shell_layout() -> html.Div:
    """Built per request, so the bar shows who is logged in."""
    return html.Div(
        [navbar(current_identity()), html.Main(dash.page_container, className="lo-main")],
        className="lo-app",
    )


# Highlight the page being shown, in the browser: no round trip for a class name.
clientside_callback(
    """function(pathname, ids) {
        return ids.map(id => id.path === pathname ? "lo-nav-link lo-nav-active" : "lo-nav-link");
    }""",
    Output({"role": "nav-link", "path": ALL}, "className"),
    Input("_pages_location", "pathname"),
    State({"role": "nav-link", "path": ALL}, "id"),
)


# Dash's page routing (a server callback) reads the location: what a browser's address bar can
# hold, under the dashboard's path (the one path Dash's routing accepts).
accepts("_pages_location", "pathname", path_under(URL_BASE.rstrip("/"), 2048))
accepts("_pages_location", "search", SEARCH)

"""Who is asking, and may they? One permission matrix for the API, the web pages and Dash."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

from flask import abort, jsonify, request, session
from flask_wtf.csrf import validate_csrf
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from wtforms import ValidationError

from app.db import db
from app.errors import LiftoffError
from app.models import AuditEntry, User
from app.token_secrets import secret_from_authorization, token_for_secret

_IDENTITY_KEY = "liftoff.identity"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# permission -> (token kinds allowed, user roles allowed). Anything not listed is refused.
PERMISSIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "read": (frozenset({"admin"}),
             frozenset({"admin", "product", "change_manager", "executive", "reviewer"})),
    "rollout:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "features:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "people:write": (frozenset({"admin"}), frozenset({"admin", "change_manager"})),
    # Cohorts are what rollout stages and trainings aim at: product teams shape them for their
    # rollouts as change managers do for enablement (issue #16); people and departments stay above.
    "cohorts:write": (frozenset({"admin"}), frozenset({"admin", "product", "change_manager"})),
    "costs:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    # Corrections (app/services/ingest/voids.py, feature_plan.py): who may record a figure may void it;
    # events come from ingestion, so voiding them is an admin's data fix (never an ingest token).
    "costs:void": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "events:void": (frozenset({"admin"}), frozenset({"admin"})),
    "features:archive": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "baselines:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "events:write": (frozenset({"admin", "ingest"}), frozenset({"admin"})),
    "feedback:write": (
        frozenset({"admin", "ingest"}),
        frozenset({"admin", "change_manager", "product"}),
    ),
    "enablement:write": (frozenset({"admin"}), frozenset({"admin", "change_manager"})),
    # Storing a gate evaluation writes gate history: not for read-only callers (executives).
    "gates:evaluate": (frozenset({"admin"}), frozenset({"admin", "product", "change_manager"})),
    "jobs:run": (frozenset({"admin"}), frozenset({"admin"})),
    # Review queues (app/services/review/): draw samples, read the AI outputs in them, label them.
    # Reviewers, and change managers who run the feedback loop.
    "reviews:label": (frozenset({"admin"}), frozenset({"admin", "change_manager", "reviewer"})),
    # Datasets of corrections hold AI outputs and fixes: for the people who review or improve them.
    "datasets:export": (frozenset({"admin"}), frozenset({"admin", "product", "change_manager", "reviewer"})),
    # An evaluation harness posts a model version's results on a dataset (what gates judge).
    "evaluations:write": (frozenset({"admin", "ingest"}), frozenset({"admin", "product"})),
    # Dashboard only: the Administration page (users and API tokens, dashboards/admin/). The CLI
    # (`liftoff users`, `liftoff tokens`) is the way in for whoever runs the server.
    "accounts:admin": (frozenset(), frozenset({"admin"})),
    # Dashboard only: the operations page (jobs, runs, pending Unleash syncs).
    "operations:read": (frozenset(), frozenset({"admin", "product"})),
    # Who receives the monthly ROI report by e-mail, and may subscribe to it.
    "reports:receive": (frozenset(), frozenset({"admin", "executive"})),
    "metrics:read": (frozenset({"admin"}), frozenset({"admin"})),
    # GDPR export and erase of one person (app/api/privacy.py): admins only.
    "privacy:admin": (frozenset({"admin"}), frozenset({"admin"})),
    # The Unleash client API (app/flags/client_api.py) takes client tokens only, never a session.
    "flags:read": (frozenset({"client"}), frozenset()),
    # The Unleash frontend API (app/flags/frontend_api.py) for browser and mobile apps: frontend
    # tokens only. They see one user's evaluated toggles, never the strategies or segments.
    "flags:frontend": (frozenset({"frontend"}), frozenset()),
}


@dataclass(frozen=True)
class Identity:
    """The caller: a logged-in user (``role``) or an API token (``token_kind``)."""

    name: str
    role: str | None = None
    token_kind: str | None = None
    environment: str | None = None
    token_name: str | None = None

    def may(self, permission: str) -> bool:
        kinds, roles = PERMISSIONS[permission]
        if self.token_kind is not None:
            return self.token_kind in kinds
        return self.role in roles


PUBLIC = "public"
# Views without @requires: they need nothing (PUBLIC), or check their permission through this
# matrix themselves (the Unleash client API, /metrics). Endpoint -> permission; the route walk
# test (tests/test_security_declared.py) fails for any route neither here nor declared on its view.
CHECKED_IN_VIEW: dict[str, str] = {
    "web.index": PUBLIC, "web.login": PUBLIC, "web.logout": PUBLIC, "web.healthz": PUBLIC,
    # The invitation page: its link's secret is the credential (app/services/accounts/invites.py).
    "web.invite": PUBLIC, "web.static": PUBLIC, "static": PUBLIC, "openapi_document": PUBLIC,
    "api_docs": PUBLIC,
    "metrics": "metrics:read",
    "client_api.features": "flags:read", "client_api.metrics": "flags:read",
    "client_api.register_sdk": "flags:read",
    "frontend_api.toggles": "flags:frontend", "frontend_api.metrics": "flags:frontend",
    "frontend_api.register_sdk": "flags:frontend",
}


def declared_permission(view, endpoint: str) -> str | None:
    """The permission a route declares: on its view (``@requires``, the dashboard's login guard)
    or in CHECKED_IN_VIEW; None when it declares none."""
    return getattr(view, "liftoff_permission", None) or CHECKED_IN_VIEW.get(endpoint)


def token_kinds_with(permission: str) -> frozenset[str]:
    """The API token kinds the matrix grants ``permission``."""
    return PERMISSIONS[permission][0]


def roles_with(permission: str) -> frozenset[str]:
    """The user roles the matrix grants ``permission`` (e.g. who receives the monthly report)."""
    return PERMISSIONS[permission][1]


def user_may(identity: Identity | None, permission: str) -> bool:
    """Whether a logged-in user (never an API token: the dashboard is for people) has it."""
    return identity is not None and identity.role is not None and identity.may(permission)


class NotAllowed(LiftoffError):
    """The caller's role may not do this (the dashboard's 403)."""

    def __init__(self, message: str):
        super().__init__(message, [], 403)


# Every dashboard action, by qualified name, with the permission it declares (read by the test
# that fails when a writing Dash callback reaches no declared action).
DASHBOARD_ACTIONS: dict[str, str] = {}


def dashboard_action(permission: str, refusal: str):
    """Declare and enforce the permission of a dashboard write: the decorated function takes an
    ``identity`` argument and raises ``NotAllowed`` (403) unless that user's role has it.

    :param refusal: what is refused, in words, e.g. ``"change rollouts (product or admin only)"``.
    """
    if permission not in PERMISSIONS:
        raise KeyError(permission)

    def decorate(action):
        signature = inspect.signature(action)
        if "identity" not in signature.parameters:
            raise TypeError(f"{action.__qualname__} must take an identity argument")

        @functools.wraps(action)
        def checked(*args, **kwargs):
            identity = signature.bind(*args, **kwargs).arguments.get("identity")
            if not user_may(identity, permission):
                raise NotAllowed(f"your role may not {refusal}")
            return action(*args, **kwargs)

        checked.liftoff_permission = permission
        DASHBOARD_ACTIONS[f"{action.__module__}.{action.__qualname__}"] = permission
        return checked

    return decorate


def bearer_secret() -> str | None:
    return secret_from_authorization(request.headers.get("Authorization"), bare=False)


def current_identity() -> Identity | None:
    """The identity behind this request, from a bearer token or the session. Cached on the
    request itself: ``g`` lives as long as the app context, which may span several requests."""
    if _IDENTITY_KEY in request.environ:
        return request.environ[_IDENTITY_KEY]
    identity = None
    secret = bearer_secret()
    if secret is not None:
        token = token_for_secret(secret)
        if token is not None:
            identity = Identity(
                name=f"token:{token.name}", token_kind=token.kind, environment=token.environment,
                token_name=token.name,
            )
    else:
        user = session_user()
        if user is not None:
            identity = Identity(name=user.email, role=user.role)
    request.environ[_IDENTITY_KEY] = identity
    return identity


SESSION_VERSION_KEY = "session_version"


def session_user() -> User | None:
    """The user of this request's session cookie, if that session is still live: the user exists,
    is active, and has not ended their sessions since the cookie was issued (logout, deactivation,
    a new password or role bump ``users.session_version``). A cookie without a version dates from
    before versions existed and counts as version 0, which the first logout ends too."""
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or session.get(SESSION_VERSION_KEY, 0) != user.session_version:
        return None
    return user


def start_session(user: User) -> None:
    """Log ``user`` in on this request's session (a fresh one: no fixation of a pre-login cookie)."""
    session.clear()
    session["user_id"] = user.id
    session[SESSION_VERSION_KEY] = user.session_version
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME


def api_error(status: int, message: str):
    response = jsonify({"error": message, "details": []})
    response.status_code = status
    return response


def acting_identity() -> Identity:
    """The caller of a view behind ``@requires``, which has already answered 401 to nobody; the
    raise only states that (and guards a view that forgot the decorator)."""
    identity = current_identity()
    if identity is None:
        raise NotAllowed("authentication required")
    return identity


def requires(permission: str):
    """Refuse the view with 401 (nobody) or 403 (not allowed) unless the caller has it."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            identity = current_identity()
            if identity is None:
                return api_error(401, "authentication required")
            if not identity.may(permission):
                return api_error(403, f"not allowed: needs {permission}")
            if identity.role is not None and request.method not in SAFE_METHODS:
                # A browser session could be replayed by another site; demand the CSRF token.
                try:
                    validate_csrf(request.headers.get("X-CSRFToken"))
                except ValidationError:
                    return api_error(403, "missing or invalid CSRF token")
            return view(*args, **kwargs)

        # Read by the role-matrix test and the OpenAPI document: every API view declares one.
        wrapper.liftoff_permission = permission
        return wrapper

    return decorate


def login_required_page(permission: str = "read"):
    """For HTML pages: redirect to the login page, or 403, instead of JSON."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            from flask import redirect, url_for

            identity = current_identity()
            if identity is None or identity.role is None:
                return redirect(url_for("web.login", next=request.full_path))
            if not identity.may(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapper.liftoff_permission = permission
        return wrapper

    return decorate


class AuditLogIsAppendOnly(LiftoffError):
    """Raised when code tries to change or remove an audit entry."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the audit log is append-only: refusing to {what} an audit entry", [], 409)


# The app has no path that updates or deletes audit entries; these guards make sure none appears.
# Core SQL bypasses the ORM: on PostgreSQL a trigger (migration 0006) refuses that too.
@event.listens_for(AuditEntry, "before_update")
def _refuse_audit_update(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly("update")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_audit_delete(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly("delete")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is AuditEntry for mapper in state.all_mappers
    ):
        raise AuditLogIsAppendOnly("update" if state.is_update else "delete")

"""Who is asking, and may they? One permission matrix for the API, the web pages and Dash."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import abort, jsonify, request, session
from flask_wtf.csrf import validate_csrf
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from wtforms import ValidationError

from app.db import db
from app.errors import LiftoffError
from app.models import AuditEntry, User
from app.services.access import token_for_secret

_IDENTITY_KEY = "liftoff.identity"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# permission -> (token kinds allowed, user roles allowed). Anything not listed is refused.
PERMISSIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "read": (frozenset({"admin"}), frozenset({"admin", "product", "change_manager", "executive"})),
    "rollout:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "features:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "people:write": (frozenset({"admin"}), frozenset({"admin", "change_manager"})),
    "costs:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "baselines:write": (frozenset({"admin"}), frozenset({"admin", "product"})),
    "events:write": (frozenset({"admin", "ingest"}), frozenset({"admin"})),
    "feedback:write": (
        frozenset({"admin", "ingest"}),
        frozenset({"admin", "change_manager", "product"}),
    ),
    "enablement:write": (frozenset({"admin"}), frozenset({"admin", "change_manager"})),
    "jobs:run": (frozenset({"admin"}), frozenset({"admin"})),
    "metrics:read": (frozenset({"admin"}), frozenset({"admin"})),
    # GDPR export and erase of one person (app/api/privacy.py): admins only.
    "privacy:admin": (frozenset({"admin"}), frozenset({"admin"})),
    # The Unleash client API (app/flags/client_api.py) takes client tokens only, never a session.
    "flags:read": (frozenset({"client"}), frozenset()),
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


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


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
    elif session.get("user_id"):
        user = db.session.get(User, session["user_id"])
        if user is not None and user.active:
            identity = Identity(name=user.email, role=user.role)
    request.environ[_IDENTITY_KEY] = identity
    return identity


def api_error(status: int, message: str):
    response = jsonify({"error": message, "details": []})
    response.status_code = status
    return response


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

"""What the Administration page reads: users and tokens as tables (never a hash or a secret)."""

from __future__ import annotations

import pandas as pd

from app.models import ROLES, TOKEN_KINDS
from app.models.access import ENVIRONMENT_KINDS, ENVIRONMENTS
from app.services.accounts import access, invites
from dashboards.shell.frame import role_label

USER_COLUMNS = ["email", "role", "state", "created_at"]
TOKEN_COLUMNS = ["id", "name", "kind", "environment", "prefix", "state", "created_at", "expires_at",
                 "last_used"]
TOKEN_KIND_HELP = {
    "admin": "REST API, every permission an admin has",
    "ingest": "posts events and feedback only",
    "client": "server-side SDKs: the flag payload of one environment",
    "frontend": "browser and mobile apps: one user's evaluated flags",
}


def role_options() -> list[dict]:
    return [{"label": role_label(role), "value": role} for role in ROLES]


def kind_options() -> list[dict]:
    return [{"label": f"{kind} — {TOKEN_KIND_HELP.get(kind, '')}", "value": kind} for kind in TOKEN_KINDS]


def environment_options() -> list[dict]:
    return [{"label": env, "value": env} for env in ENVIRONMENTS]


def needs_environment(kind: str | None) -> bool:
    return kind in ENVIRONMENT_KINDS


def _state(user, linked: set[int]) -> str:
    if not user.active:
        return "deactivated"
    return "link sent" if user.id in linked else "active"


def users_frame() -> pd.DataFrame:
    linked = invites.users_with_open_links()
    rows = [{"email": u.email, "role": u.role, "state": _state(u, linked), "created_at": u.created_at}
            for u in access.list_users()]
    return pd.DataFrame(rows, columns=USER_COLUMNS)


def tokens_frame() -> pd.DataFrame:
    tokens = access.list_tokens()
    used = access.token_last_used([t.id for t in tokens])
    rows = [{"id": t.id, "name": t.name, "kind": t.kind, "environment": t.environment or "—",
             "prefix": t.prefix, "state": access.token_state(t), "created_at": t.created_at,
             "expires_at": t.expires_at, "last_used": used.get(t.id)} for t in tokens]
    return pd.DataFrame(rows, columns=TOKEN_COLUMNS)


def user_options(frame: pd.DataFrame) -> list[dict]:
    return [{"label": f"{r['email']} ({role_label(r['role'])}, {r['state']})", "value": r["email"]}
            for r in frame.to_dict("records")]


def active_token_options(frame: pd.DataFrame) -> list[dict]:
    return [{"label": f"#{r['id']} {r['name']} ({r['kind']}, {r['prefix']}…)", "value": int(r["id"])}
            for r in frame.to_dict("records") if r["state"] == "active"]

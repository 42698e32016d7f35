"""The Compare variants page's writes, promoting a variant and defining or changing a feature's
variants: re-checked on the server whatever the page showed, through the same service as the API
(app/services/rollout/variants.py), so the same refusals come back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from app.errors import Detail, ValidationFailed
from app.models import Feature
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.rollout import promotion, variants

__all__ = ["NotAllowed", "define_variants", "may_promote_variants", "moves_people", "promote_variant",
           "row_of"]


def may_promote_variants(identity: Identity | None) -> bool:
    """Whether this logged-in user may promote or define variants (the rollout permission, as the
    API's PUT and POST .../promote)."""
    return user_may(identity, "rollout:write")


@dashboard_action("rollout:write", "promote variants (product or admin only)")
def promote_variant(key: str, name: str, identity: Identity | None, reason: str | None,
                    override: bool = False) -> Feature:
    """Give variant ``name`` of feature ``key`` weight 100 %; the caller commits.

    :param override: promote although the stage's variant criteria fail (audited with the reason).

    :raises NotAllowed: the role may not change rollouts; :raises ValidationFailed: no reason, no
        such variant; :raises GateFailed: the stage's variant criteria fail for it.
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required", [Detail("reason", "say why, for the audit trail")])
    feature, _ = promotion.promote(key, name, identity.name, reason, override)
    return feature


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value, kind):
    """A typed number as ``kind``; the text itself when it is none, so that the service refuses it
    with its own message naming the field (one set of rules for the API and the page)."""
    if _blank(value):
        return None
    text = str(value).strip()
    try:
        parsed = float(text.replace(",", "."))
    except ValueError:
        return text
    if kind is int:
        return int(parsed) if parsed.is_integer() else text
    return parsed


def _payload(value):
    """The payload text as a JSON value; the text itself when it is no JSON (refused by the service
    as ``variants[i].payload``)."""
    if _blank(value):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def variant_rows(rows: list[dict]) -> list[dict]:
    """The form's rows (texts as typed) as the API's ``variants`` list; a row left wholly blank is
    dropped (an added row nobody filled)."""
    out = []
    for row in rows:
        if all(_blank(row.get(f)) for f in ("name", "weight", "payload", "cost")):
            continue
        item = {"name": (row.get("name") or "").strip(), "weight": _number(row.get("weight"), int)}
        payload = _payload(row.get("payload"))
        if payload is not None:
            item["payload"] = payload
        cost = _number(row.get("cost"), float)
        if cost is not None:
            item["cost_per_task_eur"] = cost
        out.append(item)
    return out


def effective_at(value: str | None) -> datetime | None:
    """A ``datetime-local`` value (``YYYY-MM-DDTHH:MM``, read as UTC); None (now) when blank.

    :raises ValidationFailed: naming ``effective_at``.
    """
    if _blank(value):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed("invalid variants", [Detail(
            "effective_at", f"not a date and time YYYY-MM-DD HH:MM (UTC): {str(value)[:40]!r}")]) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def moves_people(current: dict[str, int], rows: list[dict]) -> bool:
    """Whether saving these rows changes the weights of existing variants (people change variant)."""
    items = variant_rows(rows)
    return bool(current) and any(current.get(i["name"]) != i["weight"] for i in items if i["name"] in current)


def row_of(field: str, rows: list[dict]) -> int | None:
    """The form row a refusal's field names (``variants[2].weight`` -> the row shown third), or None.
    The service counts the rows it was sent, which skip wholly blank rows."""
    if not field.startswith("variants["):
        return None
    try:
        sent = int(field[len("variants["):field.index("]")])
    except ValueError:
        return None
    filled = [i for i, row in enumerate(rows)
              if not all(_blank(row.get(f)) for f in ("name", "weight", "payload", "cost"))]
    return filled[sent] if sent < len(filled) else None


@dashboard_action("rollout:write", "define variants (product or admin only)")
def define_variants(key: str, rows: list[dict], identity: Identity | None, *, rule: dict | None = None,
                    reason: str | None = None, effective: str | None = None) -> Feature:
    """Define feature ``key``'s variants, or change their weights, payloads and costs, from the
    form's rows (``name``, ``weight``, ``payload`` JSON text, ``cost``); the caller commits.

    :param rule: ``control``, ``max_error_rate_increase`` (a share), ``objective``; None keeps it.
    :raises NotAllowed: the role may not change rollouts; :raises ValidationFailed: each problem
        naming ``variants[i].field`` as the API does (nothing is written).
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    at = effective_at(effective)
    body = {"variants": variant_rows(rows), "rule": rule, "reason": (reason or "").strip() or None}
    return variants.define(key, body, identity.name, at)

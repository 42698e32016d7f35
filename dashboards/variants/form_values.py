"""The variants form's rows as typed, read for the service: numbers and JSON parsed where they
parse (else handed on as typed, so the service names the field with its own message), the
effective time, and which form row a refusal names. Pure: no database, no permission."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from app.errors import Detail, ValidationFailed


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

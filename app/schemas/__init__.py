"""Request bodies as pydantic v2 models (``extra="forbid"``), one module per area, and the one
way a pydantic error becomes the contract's 422 naming each field."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import Detail, ValidationFailed


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


Body = TypeVar("Body", bound=BaseModel)


def parse(model: type[Body], data, message: str = "invalid request") -> Body:
    """``data`` as ``model``, or a ``ValidationFailed`` with one detail per bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(message, [Detail(_field(e["loc"]), e["msg"]) for e in exc.errors()]) from None

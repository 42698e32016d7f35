"""How a refusal reads on a page: a service's refusal shows the same lines on every page, and every
dashboard correction refuses a missing reason in the same words."""

from __future__ import annotations

from app.errors import Detail, LiftoffError, ValidationFailed


def error_lines(error: LiftoffError) -> list[str]:
    """A service's refusal as lines for the page: the message, then each ``field: message``."""
    lines = [error.message]
    for d in error.details:
        where = f"row {d.index}: " if d.index is not None else ""
        lines.append(f"{where}{d.field}: {d.message}")
    return lines


def required_reason(reason: str | None) -> str:
    """The reason a correction was given, stripped; the audit trail keeps it, so none is refused.

    :raises ValidationFailed: naming ``reason`` when it is missing or blank.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required", [Detail("reason", "say why, for the audit trail")])
    return reason

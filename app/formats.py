"""How figures are written for people: euros, percentages and plain numbers, with a dash for a
figure that does not exist. Shared by the dashboard pages and the e-mailed monthly report, so both
write the same figure the same way."""

from __future__ import annotations


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def euro(value, digits: int = 0) -> str:
    if missing(value):
        return "—"
    text = f"{abs(value):,.{digits}f}".replace(",", "\u202f")
    return ("−" if value < 0 else "") + "€\u00a0" + text


def pct(value, digits: int = 1, scale: float = 100.0) -> str:
    """A share (0..1) as a percentage; ``scale=1`` for values already in percent."""
    return "—" if missing(value) else f"{value * scale:.{digits}f}\u00a0%"


def num(value, digits: int = 1, unit: str = "") -> str:
    if missing(value):
        return "—"
    return f"{value:,.{digits}f}".replace(",", "\u202f") + (f"\u00a0{unit}" if unit else "")


def iso_utc(value):
    """A timestamp as the API writes it: ISO 8601 in UTC with a ``Z`` (None stays None)."""
    from datetime import UTC

    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None

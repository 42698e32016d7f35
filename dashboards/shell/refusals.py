"""How a service's refusal reads on a page: the same lines on every page that shows one."""

from __future__ import annotations

from app.errors import LiftoffError


def error_lines(error: LiftoffError) -> list[str]:
    """A service's refusal as lines for the page: the message, then each ``field: message``."""
    lines = [error.message]
    for d in error.details:
        where = f"row {d.index}: " if d.index is not None else ""
        lines.append(f"{where}{d.field}: {d.message}")
    return lines

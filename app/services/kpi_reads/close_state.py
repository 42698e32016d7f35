"""Whether a month is closed, and how its frozen figures compare with the live ones: the state a
KPI read reports beside the live ROI (the close itself is app/services/reporting/closes.py)."""

from __future__ import annotations

import json

from app.db import db
from app.models.kpi import MonthlyClose


def close_status(month: str, current: str) -> dict:
    """``closed``, ``closed_at``, ``restated`` and ``closed_figures`` of a month for the API."""
    close = db.session.get(MonthlyClose, month)
    if close is None:
        return {"closed": False, "restated": False}
    frozen = json.loads(close.figures)
    return {
        "closed": True,
        "closed_at": close.closed_at.isoformat(),
        "restated": current != close.fingerprint,
        "restated_at": close.restated_at.isoformat() if close.restated_at else None,
        "closed_figures": frozen,
    }

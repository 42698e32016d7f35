"""Monthly close: freeze a month's ROI with a fingerprint of its inputs; flag later restatements."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from app.db import db, utcnow
from app.errors import Conflict, Detail, ValidationFailed
from app.kpi.fingerprint import fingerprint  # noqa: F401  (see below)
from app.models.kpi import FeatureMonth, MonthlyClose
from app.months import check_month, last_month, this_month
from app.services.kpi_reads.close_state import close_status  # noqa: F401

# The fingerprint and the close state live below the reporting room, so the KPI reads use them
# without importing the close (no cycle); they stay importable from here, where callers found them.


def previous_month(today: date | None = None) -> str:
    """The month the monthly-close job freezes: the one before today's."""
    return last_month(today)


def close_month(month: str) -> MonthlyClose:
    """Freeze ``month``'s ROI. A closed month stays frozen: closing it again changes nothing
    (a later change shows as a restatement beside the frozen figures).

    :param month: ``YYYY-MM``.
    """
    from app.services.kpi_reads.figures import roi_figures

    close = db.session.get(MonthlyClose, month)
    if close is not None:
        return close
    figures, current = roi_figures(month)
    close = MonthlyClose(month=month, fingerprint=current, closed_at=utcnow(),
                         figures=json.dumps({"features": figures["features"],
                                             "total": figures["total"]}))
    db.session.add(close)
    db.session.flush()
    return close


@dataclass
class CloseResult:
    close: MonthlyClose
    new: bool  # closed by this call (False: it was closed already and stays as it was)
    events_read: int
    restated: int  # earlier closed months this call found restated
    news: list[str] = field(default_factory=list)  # what the report of a new close names


class NothingToClose(Conflict):
    """A past month without a single counted event: closing it would freeze nothing but zeros
    (and a close cannot be undone), so every way in (API, CLI, dashboard, job) refuses it alike."""

    def __init__(self, month: str):
        super().__init__(f"{month_label(month)} has no events yet: nothing to close",
                         [Detail("month", "has no events")])
        self.month = month


def month_label(month: str) -> str:
    """``2026-11`` -> ``November 2026``: how a confirmation or a refusal names a month."""
    return date(int(month[:4]), int(month[5:7]), 1).strftime("%B %Y")


def has_activity(month: str) -> bool:
    """Whether the rollups hold any task of ``month`` (voided events are not in them)."""
    found = select(FeatureMonth.month).where(FeatureMonth.month == month).limit(1)
    return db.session.scalar(found) is not None


def check_closable(month: str, today: date | None = None) -> None:
    """Only a month that has ended can be closed.

    :raises ValidationFailed: a malformed or a future month (422).
    :raises Conflict: the current month, which has not ended yet (409).
    """
    check_month(month, "invalid month")
    current = this_month(today or utcnow().date())
    if month == current:
        raise Conflict(f"{month} is the current month: it can be closed once it has ended",
                       [Detail("month", "has not ended yet")])
    if month > current:
        raise ValidationFailed(f"{month} is a future month: only a past month can be closed",
                               [Detail("month", f"is after the current month {current}")])


def close_past_month(month: str, today: date | None = None, *, allow_empty: bool = False) -> CloseResult:
    """Close any past month (not only the last): bring the rollups up to every event accepted so
    far, mark the closed months whose inputs moved as restated, then freeze ``month``'s ROI.

    Its cumulative net and payback are as of that month, whatever later months are closed.

    :param month: ``YYYY-MM``, before the current month (see ``check_closable``).
    :param today: the day it is (tests); default today in UTC.
    :param allow_empty: close a month without events too (``liftoff close --month``: the
        contract's "any past month", for an operator who means it); the API, the dashboard and the
        job refuse one.
    :raises NothingToClose: ``month`` is not closed and has no events (409), unless ``allow_empty``.
    """
    from app.services.rollups import materialise as rollups

    check_closable(month, today)
    refreshed = rollups.refresh()
    new = not is_closed(month)
    if new and not allow_empty and not has_activity(month):
        raise NothingToClose(month)  # the refresh above is rolled back with it: nothing half-done
    restated = check_restatements()
    close = close_month(month)
    return CloseResult(close=close, new=new, events_read=refreshed.events_read, restated=restated,
                       news=restated_since_last_close(month) if new else [])


def close_record(close: MonthlyClose) -> dict:
    """A close as the API and the CLI show it: month, when, fingerprint and frozen figures."""
    return {"month": close.month, "closed_at": close.closed_at.isoformat(),
            "fingerprint": close.fingerprint,
            "restated_at": close.restated_at.isoformat() if close.restated_at else None,
            "figures": json.loads(close.figures)}


def is_closed(month: str) -> bool:
    return db.session.get(MonthlyClose, month) is not None


def restated_since_last_close(month: str) -> list[str]:
    """Closed months other than ``month`` whose restatement was stamped after the latest close of
    another month (every restated month when there is none): the news a report of ``month`` gives."""
    others = db.session.scalars(select(MonthlyClose).where(MonthlyClose.month != month)).all()
    since = max((c.closed_at for c in others), default=None)
    return sorted(c.month for c in others
                  if c.restated_at is not None and (since is None or c.restated_at > since))


def check_restatements() -> int:
    """Mark every closed month whose inputs changed since its close as restated; how many."""
    from app.services.kpi_reads.figures import roi_figures

    marked = 0
    for close in db.session.scalars(select(MonthlyClose).order_by(MonthlyClose.month)):
        _, current = roi_figures(close.month)
        if current != close.fingerprint and current != close.restated_fingerprint:
            close.restated_at, close.restated_fingerprint = utcnow(), current
            marked += 1
    db.session.flush()
    return marked

"""Privacy jobs: blank free texts past their retention (module-level, run by the job runner)."""

from __future__ import annotations

from app.jobs.base import JobStats
from app.services.people import retention


def blank_old_texts() -> JobStats:
    """Daily: blank AI outputs, corrections and reviewers' fixes older than the retention."""
    result = retention.blank_old_texts()
    return JobStats(rows_read=result["events_blanked"] + result["fixes_blanked"],
                    rows_written=result["events_blanked"] + result["fixes_blanked"])

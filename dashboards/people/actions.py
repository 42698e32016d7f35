"""The People & cohorts page's only write, re-checking the caller's role on the server.

A cohort is saved through the same service as ``PUT /api/v1/cohorts/{key}`` (members replaced from
``effective_at`` on, default now, with the membership history kept), under the matrix's permission
for cohorts (``cohorts:write``: change managers, product teams and admins). The callback commits
after success.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from app.errors import Collector
from app.models import Cohort
from app.security import Identity, dashboard_action, user_may
from app.services.audit import audit
from app.services.people import directory

__all__ = ["effective_instant", "may_edit_cohorts", "save_cohort"]


def may_edit_cohorts(identity: Identity | None) -> bool:
    """Change managers, product teams and admins keep cohorts (the matrix's ``cohorts:write``)."""
    return user_may(identity, "cohorts:write")


def effective_instant(day: str | None, clock: str | None, problems: Collector) -> datetime | None:
    """A date picker's day and a typed ``HH:MM`` (UTC) as an instant; None (now) when both are blank."""
    clock = (clock or "").strip()
    if not day and not clock:
        return None
    if not day:
        problems.add("effective_at", "pick a date for the time, or leave both blank for now")
        return None
    try:
        when = date.fromisoformat(str(day)[:10])
    except ValueError:
        problems.add("effective_at", f"not a date: {str(day)[:40]!r}")
        return None
    at = time(0, 0)
    if clock:
        try:
            at = time.fromisoformat(clock)
        except ValueError:
            problems.add("effective_at", f"not a time HH:MM: {clock[:20]!r}")
            return None
    return datetime.combine(when, at, tzinfo=UTC)


@dashboard_action("cohorts:write", "change cohorts (change manager, product or admin only)")
def save_cohort(identity: Identity | None, key: str | None, name: str | None, members: list[str],
                day: str | None = None, clock: str | None = None) -> Cohort:
    """Create the cohort or replace its name and members, from the chosen instant (default now).

    :raises NotAllowed: the role may not change cohorts.
    :raises ValidationFailed: naming each bad field or member (nothing is stored).
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    problems = Collector()
    at = effective_instant(day, clock, problems)
    problems.raise_if_any("invalid cohort")
    key = (key or "").strip()
    spec: dict = {"members": members}
    if name and name.strip():
        spec["name"] = name.strip()
    if at is not None:
        spec["effective_at"] = at.isoformat()
    cohort = directory.put_cohort(key, spec)
    audit(identity.name, "cohort.put", "cohort", cohort.key, None,
          {"name": cohort.name, "members": len(members), "effective_at": spec.get("effective_at")})
    return cohort

"""KPI jobs (implemented by the KPI work). Jobs are importable module-level functions that run
inside an app context and a transaction owned by the job runner; they never commit."""

from __future__ import annotations

from app.jobs.base import JobStats


def refresh_kpis(full: bool = False) -> JobStats:
    """Recompute the daily rollups touched since the last run (all of them when ``full``)."""
    raise NotImplementedError


def monthly_close(month: str | None = None) -> JobStats:
    """Freeze last month's ROI (or ``month``, YYYY-MM) with a fingerprint of its inputs."""
    raise NotImplementedError

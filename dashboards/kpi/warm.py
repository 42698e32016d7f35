"""Warm this process's rollup reads after each change of the KPI revision.

KPI reads are remembered per process under the one KPI revision (app/services/kpi_reads/cache.py),
which every commit writing a KPI input bumps (a refresh-kpis run, an event batch, a rollout or
department change). A new revision makes them all stale, and the first view of a feature's
month then reads ~10^5 rollup rows: 0.3-0.5 s at 10 M events, against ~0.15 s once they are
remembered. So a daemon thread in each web process checks the revision every
``KPI_WARM_SECONDS`` (``LIFTOFF_KPI_WARM_SECONDS``, 30; 0 turns it off) and, when it moved, reads
what the pages of the latest month need, feature by feature (the month's window, the baseline
window, the eight trend weeks), and the monthly sums of it and the month before. At 10 M events
and 20 features that is ~110 MB of the memo's KPI_CACHE_MB. Of the answers, only each feature's
month answer is warmed (the quality page's record, read from the store when it holds it): the
reads are what every page and role shares, and they cost the database more than this process's
CPU.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from flask import Flask
from sqlalchemy import select

from app.db import db
from app.models import Feature
from app.months import month_before
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures as kpis
from dashboards.kpi import data as kpi_data

log = logging.getLogger(__name__)
_started: dict[int, threading.Thread] = {}  # by process id: a forked worker starts its own
_lock = threading.Lock()


def warm_once() -> int:
    """Read what the pages of the latest month need for every feature, and the monthly sums of
    the month before too (the month an executive reviews after its close), in an app context;
    returns how many features were warmed."""
    latest = kpi_data.default_month()
    keys = list(db.session.scalars(select(Feature.key).order_by(Feature.key)))
    kpis.money_inputs(month_before(latest))
    kpis.money_inputs(latest)
    start, end = kpi_data.month_bounds(latest)[0], kpi_data.window_end(latest)
    for key in keys:
        kpis.kpi_inputs(key, start, end)
        kpis.feature_kpis(key, start, end)  # the quality page's record (from the store when it holds it)
        kpis.trend_inputs(key, kpi_data.weeks_ending(end))
    return len(keys)


def _loop(app: Flask, every: float) -> None:
    seen = None
    while True:
        try:
            with app.app_context():
                version = kpi_cache.version()
                if version is not None and version != seen:
                    began = time.perf_counter()
                    count = warm_once()
                    seen = version
                    log.info("warmed the KPI reads of %d features in %.1f s", count,
                             time.perf_counter() - began)
                db.session.remove()
        except Exception:  # a failed warm-up costs only speed: log it and try again later
            log.exception("warming the KPI reads failed")
        time.sleep(every)


def start(app: Flask) -> None:
    """Start this process's warmer once (no-op when KPI_WARM_SECONDS is 0 or when testing)."""
    if os.getpid() in _started:  # every request asks: answer without the lock once started
        return
    every = float(app.config.get("KPI_WARM_SECONDS", 0) or 0)
    if every <= 0 or app.config.get("TESTING"):
        return
    with _lock:
        if os.getpid() in _started:
            return
        thread = threading.Thread(target=_loop, args=(app, every), name="kpi-warm", daemon=True)
        _started[os.getpid()] = thread
        thread.start()

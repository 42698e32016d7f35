"""The one way gates, guardrails and drift watch tell people: the alert channels when present."""

from __future__ import annotations

import importlib
import logging

from app.models import Feature

log = logging.getLogger("liftoff.announce")


def announce(feature: Feature, subject: str, body: str) -> bool:
    """Send an alert about a feature through app.alerts (webhook/e-mail), if that module exists.

    Always logs; returns True when an alert channel accepted it. A broken channel must not undo
    a rollback, so its errors are logged, never raised.
    """
    log.warning("[%s] %s: %s", feature.key, subject, body)
    try:
        alerts = importlib.import_module("app.alerts")
    except ImportError:
        log.info("app.alerts is not installed; the announcement was only logged")
        return False
    try:
        alerts.send_alert(subject, body, feature_key=feature.key)
    except Exception:  # any channel failure: keep the rollback, report loudly
        log.exception("the alert about %s could not be sent", feature.key)
        return False
    return True

"""Gate, guardrail and drift jobs: module-level functions run by the job runner inside an app
context and a transaction it owns; they never commit."""

from __future__ import annotations

from app.jobs.base import JobStats
from app.services.rollout import drift, gates, guardrails


def evaluate_gates() -> JobStats:
    """Daily: evaluate every live feature's stage gate; promote the passing auto-promote ones."""
    evaluations = gates.evaluate_all(trigger="schedule")
    return JobStats(rows_read=len(evaluations),
                    rows_written=len(evaluations) + sum(e.transition_id is not None for e in evaluations))


def run_guardrails() -> JobStats:
    """Often (e.g. hourly): roll back or kill features whose quality broke."""
    tripped = guardrails.run_guardrails()
    return JobStats(rows_read=len(tripped), rows_written=len(tripped))


def drift_watch() -> JobStats:
    """Weekly: compare live durations and error rates with each feature's first month."""
    checks = drift.drift_watch()
    return JobStats(rows_read=sum(c.reference_n + c.live_n for c in checks), rows_written=len(checks))

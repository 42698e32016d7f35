"""Baselines, cost entries and feedback (implemented by the KPI work)."""

from __future__ import annotations

from app.models import Baseline, CostEntry, Feedback


def record_baseline(spec: dict) -> Baseline:
    """Body of ``POST /api/v1/baselines``."""
    raise NotImplementedError


def record_cost(feature_key: str, spec: dict) -> CostEntry:
    """Body of ``POST /api/v1/features/{key}/costs``: month, amount_eur, category, note."""
    raise NotImplementedError


def record_feedback(rows: list[dict]) -> list[Feedback]:
    """Body of ``POST /api/v1/feedback``."""
    raise NotImplementedError

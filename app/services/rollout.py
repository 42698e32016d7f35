"""Staged rollouts: create a feature's plan; advance, roll back, kill and resume it.

Interface agreed between the parts of the app (implemented by the rollout work):
every function validates, raises ``app.errors.LiftoffError`` subclasses, flushes, never commits.
"""

from __future__ import annotations

from datetime import datetime

from app.models import Feature


def create_feature(spec: dict, actor: str) -> Feature:
    """Create a feature and its stage plan from the body of ``POST /api/v1/features``."""
    raise NotImplementedError


def advance(key: str, actor: str, reason: str | None = None,
            effective_at: datetime | None = None) -> Feature:
    raise NotImplementedError


def rollback(key: str, actor: str, reason: str, effective_at: datetime | None = None) -> Feature:
    raise NotImplementedError


def kill(key: str, actor: str, reason: str, effective_at: datetime | None = None) -> Feature:
    raise NotImplementedError


def resume(key: str, actor: str, reason: str, effective_at: datetime | None = None) -> Feature:
    raise NotImplementedError


def feature_state(key: str) -> dict:
    """The JSON body of ``GET /api/v1/features/{key}``."""
    raise NotImplementedError

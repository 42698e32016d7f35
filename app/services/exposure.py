"""Exposure spells: who had which feature, from when to when (implemented by the rollout work)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


def audiences_changed(at: datetime, feature_ids: Iterable[int] | None = None) -> None:
    """Call after anything that can change who is in a feature's audience (a transition, a
    cohort's members, new people): re-derives the audiences of these features (all started ones
    when None), opens and closes exposure spells at ``at``, and marks the flag payload changed."""
    return None

"""Hand-off to an external Unleash server (implemented by the Unleash-backend work)."""

from __future__ import annotations

from collections.abc import Iterable


def queue_sync(feature_ids: Iterable[int]) -> None:
    """Record that these features' rollout changed; in ``unleash`` mode a sync is queued."""
    return None

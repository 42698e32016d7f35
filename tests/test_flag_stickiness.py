"""Our percentage bucketing is the Unleash engine's own: checked against the engine in UnleashClient."""

from __future__ import annotations

import json

import pytest
from yggdrasil_engine.engine import UnleashEngine

from app.flags.stickiness import bucket, buckets, in_rollout


def _engine_with_ramps(group_id: str, percentages: list[int]) -> UnleashEngine:
    engine = UnleashEngine()
    features = [
        {
            "name": f"ramp-{p}",
            "enabled": True,
            "strategies": [
                {
                    "name": "flexibleRollout",
                    "parameters": {"rollout": str(p), "stickiness": "userId", "groupId": group_id},
                    "constraints": [],
                    "segments": [],
                }
            ],
        }
        for p in percentages
    ]
    assert engine.take_state(json.dumps({"version": 2, "features": features})) is None
    return engine


@pytest.mark.slow
def test_bucketing_matches_the_unleash_engine_over_100000_ids():
    group = "copilot-mail"
    engine = _engine_with_ramps(group, [1, 30, 50, 99])
    ids = [f"emp-{i:06d}" for i in range(100_000)]
    ours = buckets(group, ids)
    mismatches = []
    for n, (uid, b) in enumerate(zip(ids, ours, strict=True)):
        # Every id at 30 %; the edges of the scale on a fifth of them (the engine costs ~20 us a call).
        for p in (30, 1, 50, 99) if n % 5 == 0 else (30,):
            theirs = engine.check_enabled(f"ramp-{p}", {"userId": uid}).is_enabled
            if theirs != (b <= p):
                mismatches.append((uid, p))
    assert mismatches == []
    # The ramps really split the population, so the comparison could have failed.
    assert 29_000 < sum(b <= 30 for b in ours) < 31_000


def test_edges_of_the_percentage_scale():
    engine = _engine_with_ramps("g", [0, 100])
    for i in range(2000):
        uid = f"u{i}"
        assert in_rollout("g", uid, 0) is False
        assert engine.check_enabled("ramp-0", {"userId": uid}).is_enabled is False
        assert in_rollout("g", uid, 100) is True
        assert 1 <= bucket("g", uid) <= 100


def test_the_group_id_reshuffles_who_is_in():
    ids = [f"u{i}" for i in range(5000)]
    a = {u for u, b in zip(ids, buckets("feature-a", ids), strict=True) if b <= 50}
    b = {u for u, b in zip(ids, buckets("feature-b", ids), strict=True) if b <= 50}
    assert a != b and 0.4 < len(a & b) / len(a) < 0.6

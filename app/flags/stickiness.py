"""Who is inside a percentage, decided exactly as Unleash's ``flexibleRollout`` decides it.

Unleash hashes ``"<groupId>:<userId>"`` with 32-bit MurmurHash3 (seed 0), maps it to 1..100 and
lets the person in when that number is at most the rollout percentage. The test
``tests/test_flag_stickiness.py`` checks this against the engine inside ``UnleashClient`` over
100,000 ids; we keep our own copy because calling the engine once per person is far slower.
"""

from __future__ import annotations

from collections.abc import Iterable

import mmh3
import numpy as np


def bucket(group_id: str, user_id: str) -> int:
    """The person's position 1..100 in the group's rollout order."""
    return mmh3.hash(f"{group_id}:{user_id}", 0, signed=False) % 100 + 1


def in_rollout(group_id: str, user_id: str, percentage: int) -> bool:
    """True when ``flexibleRollout`` with this percentage and ``stickiness=userId`` enables them."""
    return percentage > 0 and bucket(group_id, user_id) <= percentage


def buckets(group_id: str, user_ids: Iterable[str]) -> list[int]:
    """``bucket`` for many people at once (the exposure recompute hashes everybody)."""
    prefix = f"{group_id}:"
    hash32 = mmh3.hash
    return [hash32(prefix + uid, 0, signed=False) % 100 + 1 for uid in user_ids]


# Variants: Unleash hashes the same "<groupId>:<userId>" with another seed, maps it to 1..total
# weight and walks the variants in order until their running weight reaches it. Liftoff's weights
# are percentages; Unleash's sum to 1000, so a percentage is sent (and replayed) times ten.
VARIANT_SEED = 86028157
VARIANT_WEIGHT_TOTAL = 1000


def variant_target(group_id: str, user_id: str) -> int:
    """The person's position 1..1000 in the group's variant order."""
    return mmh3.hash(f"{group_id}:{user_id}", VARIANT_SEED, signed=False) % VARIANT_WEIGHT_TOTAL + 1


def variant_of(target: int, weights: list[tuple[str, int]]) -> str | None:
    """The variant whose slice of 1..1000 holds ``target``; ``weights`` are (name, percent) in order."""
    running = 0
    for name, percent in weights:
        running += percent * 10
        if running >= target:
            return name
    return None


def variant_targets(group_id: str, user_ids: Iterable[str]) -> list[int]:
    """``variant_target`` for many people at once."""
    prefix = f"{group_id}:"
    hash32 = mmh3.hash
    return [hash32(prefix + uid, VARIANT_SEED, signed=False) % VARIANT_WEIGHT_TOTAL + 1 for uid in user_ids]


def variants_for(targets, weights: list[tuple[str, int]]) -> np.ndarray:
    """``variant_of`` for an array of targets: the first variant whose running weight reaches each."""
    running = np.cumsum([percent * 10 for _, percent in weights])
    names = np.array([name for name, _ in weights] + [None], dtype=object)
    return names[np.searchsorted(running, np.asarray(targets, dtype=np.int64), side="left")]

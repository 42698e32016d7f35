"""Unleash's variant assignment, written out from its client specification, independently of the
app's own (app/flags/stickiness.py): the tests' expected variant of a person."""

from __future__ import annotations

import mmh3

VARIANT_SEED = 86028157  # the specification's seed for variant stickiness


def unleash_variant(group: str, user: str, weights: list[tuple[str, int]]) -> str:
    """murmur3 of "groupId:userId" with the variant seed, modulo 1000 plus one, against the running
    weights (percent, so times ten per mille) in order."""
    target = mmh3.hash(f"{group}:{user}", VARIANT_SEED, signed=False) % 1000 + 1
    running = 0
    for name, weight in weights:
        running += weight * 10
        if running >= target:
            return name
    raise AssertionError("weights do not reach 1000")

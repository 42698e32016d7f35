"""Intervals: Wilson for rates, mean +- 1.96 standard errors for per-task means."""

from __future__ import annotations

import math

Z = 1.96


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is 0."""
    return None if not denominator else numerator / denominator


def wilson(successes: int, n: int, z: float = Z) -> tuple[float | None, float | None]:
    """The Wilson score interval of successes / n (None, None when n = 0)."""
    if n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(total: float, total_sq: float, n: int, z: float = Z
                  ) -> tuple[float | None, float | None, float | None]:
    """Mean and mean +- z standard errors from the sum and sum of squares of n values."""
    if n <= 0:
        return None, None, None
    mean = total / n
    if n < 2:
        return mean, None, None
    # Clip tiny negative variances that float cancellation can produce.
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = z * math.sqrt(variance / n)
    return mean, mean - half, mean + half

"""Review figures: what human reviewers found, beside what users reported themselves.

- ``reviewed_error_rate`` = first-round labels ``corrected`` or ``wrong`` / labels that could be
  assessed (``not_assessable`` left out), with its 95 % Wilson interval: the same rule as every
  rate (KPI_DEFINITIONS, Uncertainty).
- Cohen's kappa between the two reviewers of the items labelled twice:
  kappa = (p_o - p_e) / (1 - p_e), with p_o the share of items both gave the same label and p_e
  the agreement expected by chance from each reviewer's own label shares.
- ``pass_rate`` of an evaluation run, with its interval: gates judge its lower bound.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from app.kpi.stats import ratio, wilson

ERROR_LABELS = ("corrected", "wrong")


def reviewed_error_rate(labels: Iterable[str]) -> dict:
    """The reviewed error rate of first-round labels.

    :returns: ``reviewed_items`` (all labels), ``assessed`` (without not_assessable), ``errors``,
        ``corrected``, ``wrong``, ``reviewed_error_rate`` and its ``_ci_low`` / ``_ci_high`` (None
        when nothing could be assessed).
    """
    counts = Counter(labels)
    assessed = sum(n for label, n in counts.items() if label != "not_assessable")
    errors = counts["corrected"] + counts["wrong"]
    low, high = wilson(errors, assessed)
    return {"reviewed_items": sum(counts.values()), "assessed": assessed, "errors": errors,
            "corrected": counts["corrected"], "wrong": counts["wrong"],
            "not_assessable": counts["not_assessable"],
            "reviewed_error_rate": ratio(errors, assessed),
            "reviewed_error_rate_ci_low": low, "reviewed_error_rate_ci_high": high}


def cohens_kappa(pairs: Iterable[tuple[str, str]]) -> dict:
    """Agreement of two reviewers on the same items.

    :param pairs: (first reviewer's label, second reviewer's label) per item.
    :returns: ``items``, ``observed_agreement`` and ``kappa`` (None without pairs; None as well when
        both reviewers used one and the same label throughout, where chance agreement is 1 and
        kappa is undefined).
    """
    pairs = list(pairs)
    n = len(pairs)
    if n == 0:
        return {"items": 0, "observed_agreement": None, "kappa": None}
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[k] * second[k] for k in first) / (n * n)
    kappa = None if expected >= 1.0 else (observed - expected) / (1.0 - expected)
    return {"items": n, "observed_agreement": observed, "kappa": kappa}


def pass_rate(passed: int, items: int) -> dict:
    """An evaluation run's pass rate with its 95 % Wilson interval (None when it has no items)."""
    low, high = wilson(passed, items)
    return {"items": items, "passed": passed, "pass_rate": ratio(passed, items),
            "pass_rate_ci_low": low, "pass_rate_ci_high": high}


def rate_worse(current: dict, previous: dict, name: str) -> bool:
    """Whether ``current``'s rate ``name`` is worse than ``previous``'s beyond both intervals:
    its lower bound above the previous upper bound (the guardrails' rule)."""
    low, prev_high = current.get(f"{name}_ci_low"), previous.get(f"{name}_ci_high")
    return low is not None and prev_high is not None and low > prev_high


def outcome_rate(hits: int, total: int, name: str) -> dict:
    """A rate of ``hits`` out of ``total`` under ``name``, with its interval and counts."""
    low, high = wilson(hits, total)
    return {name: ratio(hits, total), f"{name}_ci_low": low, f"{name}_ci_high": high,
            f"{name}_n": total, f"{name}_hits": hits}

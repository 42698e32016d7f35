"""Baselines, monthly cost entries and feedback: what the KPIs compare and divide by."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from app import plausible
from app.models import COST_CATEGORIES
from app.schemas.common import (
    Body,
    Figure,
    Integer,
    KeptText,
    Month,
    OptionalNumber,
    OptionalText,
    PastTimestamp,
    Text,
    choice,
    problem,
)


class BaselineIn(Body):
    """``POST /baselines``: an explicit baseline of a feature's task; the latest ``measured_at``
    wins. Give ``minutes_per_task``, ``error_rate`` or both."""

    feature: Text(120)
    task: Text(120) = "default"
    minutes_per_task: Figure(plausible.MAX_MINUTES, " minutes") = None
    error_rate: OptionalNumber(0, 1) = None
    source: Text(200)
    measured_at: PastTimestamp
    """ISO 8601 with an offset; a future one would win "the latest" until then, so it is refused."""


class CostIn(Body):
    """``POST /features/{key}/costs``: a monthly cost entry."""

    month: Month
    amount_eur: Figure(plausible.MAX_AMOUNT_EUR, " EUR")
    category: Annotated[Literal[COST_CATEGORIES], BeforeValidator(choice(COST_CATEGORIES))]
    note: KeptText(10_000) = None


class FeedbackIn(Body):
    """One feedback row (``POST /feedback``, the feedback CSV, the dashboard form)."""

    feature: Text(120)
    person_id: Text(200)
    rating: Integer(1, 5)
    comment: KeptText(10_000) = None
    category: KeptText(40) = None
    occurred_at: PastTimestamp


SEVERITIES = ("normal", "critical")


def _csv_rating(value: Any) -> int:
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.isdigit() or not 1 <= int(text) <= 5:
        raise problem(f"must be a whole number from 1 to 5, not {text!r}")
    return int(text)


class FeedbackCsvRow(Body):
    """A line of the feedback CSV (``liftoff import feedback``): the API's feedback row with its
    cells as text, plus the ``severity`` a survey export may carry."""

    model_config = ConfigDict(strict=False)

    feature: Text(120)
    person_id: Text(200)
    rating: Annotated[int, Field(ge=1, le=5), BeforeValidator(_csv_rating)]
    occurred_at: PastTimestamp
    comment: OptionalText(10_000) = None
    category: OptionalText(40) = None
    severity: Annotated[Literal[SEVERITIES] | None, BeforeValidator(
        lambda v: choice(SEVERITIES)(v.strip()) if isinstance(v, str) and v.strip() else None)] = None

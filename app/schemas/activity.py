"""Baselines, monthly cost entries and feedback: what the KPIs compare and divide by."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator

from app import plausible
from app.models import COST_CATEGORIES
from app.schemas.common import (
    Body,
    Figure,
    Integer,
    KeptText,
    Month,
    OptionalNumber,
    PastTimestamp,
    Text,
    choice,
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

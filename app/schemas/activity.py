"""Baselines, monthly cost entries and feedback: what the KPIs compare and divide by."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

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


MAX_COMMENT, MAX_CATEGORY = 10_000, 40
SEVERITIES = ("normal", "critical")
# The dashboard form's menu; the API and a file may name any category (API_CONTRACT.md).
CATEGORIES = ("usability", "quality", "correction", "training", "other")


class FeedbackIn(Body):
    """One feedback item as the API takes it (``POST /feedback``, JSON values). The one rule set
    (app/services/ingest/feedback.py) reads the text media's rows with the models below."""

    feature: Text(120)
    person_id: Text(200)
    rating: Integer(1, 5)
    comment: KeptText(MAX_COMMENT) = None
    category: KeptText(MAX_CATEGORY) = None
    occurred_at: PastTimestamp


def _written_rating(value: Any) -> int:
    # Text media write the number out ("4"); a number given as such is judged as the API judges it.
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or not 1 <= int(text) <= 5:
            raise problem(f"must be a whole number from 1 to 5, not {value!r}")
        return int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise problem("must be an integer from 1 to 5")
    return value


def _severity(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "normal"
    return choice(SEVERITIES)(value.strip() if isinstance(value, str) else value)


class FeedbackCsvRow(FeedbackIn):
    """A line of the feedback CSV (``liftoff import feedback``): the API's item with its cells as
    text (a rating may be written ``"4"``), plus the ``severity`` a survey export may carry."""

    rating: Annotated[int, Field(ge=1, le=5), BeforeValidator(_written_rating)]
    severity: Annotated[Literal[SEVERITIES], BeforeValidator(_severity)] = "normal"


class FeedbackForm(FeedbackCsvRow):
    """The dashboard's feedback form: a file's row whose category comes from the form's menu."""

    category: Annotated[Literal[CATEGORIES] | None, BeforeValidator(
        lambda v: None if v in (None, "") else choice(CATEGORIES)(v))] = None

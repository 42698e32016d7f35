"""Bodies of the review, dataset and evaluation endpoints (issue #19), validated at the edge.

The services check the same rules again (the dashboard and the CLI call them directly); these
models give the API its shapes, a 422 naming each bad field, and unknown fields refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from app.models import EVENT_TEXT_MAX, LABELS, MODEL_VERSION_MAX
from app.models.review import CATEGORY_MAX, VARIANT_MAX
from app.schemas.common import (
    Body,
    Flag,
    Integer,
    KeptText,
    OptionalDay,
    OptionalInteger,
    OptionalNumber,
    Text,
    choice,
    problem,
)


def _named(limit: int):
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise problem("must be a string")
        if not value.strip():
            raise problem("must not be empty")  # a blank filter would silently match nothing
        if len(value) > limit:
            raise problem(f"must be at most {limit} characters")
        return value
    return check


def Name(limit: int) -> Any:  # noqa: N802 (a type, spelled like one)
    """An optional name (a variant, a category): absent or a non-blank string of at most ``limit``."""
    return Annotated[str | None, Field(min_length=1, max_length=limit), BeforeValidator(_named(limit))]


class SampleIn(Body):
    """Draw a review sample of a feature's AI outputs."""

    stage: OptionalInteger(1) = None
    """Default: the current stage."""
    variant: Name(VARIANT_MAX) = None
    size: OptionalInteger(1, 10_000) = None
    """Default: the playbook's ``review.sample_size``."""
    second_share: OptionalNumber(0, 1) = None
    """Default: the playbook's ``review.second_share``."""
    seed: OptionalInteger(0) = None


class LabelIn(Body):
    """A reviewer's verdict on one item."""

    label: Annotated[Literal[LABELS], BeforeValidator(choice(LABELS))]
    category: Name(CATEGORY_MAX) = None
    """Required for corrected and wrong."""
    fix: KeptText(EVENT_TEXT_MAX) = None
    """The fixed version (corrected only)."""


class DatasetExportIn(Body):
    """Freeze a new version of a dataset from a filter."""

    feature: Text(120)
    variant: Name(VARIANT_MAX) = None
    start: OptionalDay = None
    end: OptionalDay = None
    category: Name(CATEGORY_MAX) = None


class ResultIn(Body):
    item: Integer(1)
    """An ``item_id`` of the dataset version."""
    passed: Flag
    score: float | None = None


class EvaluationIn(Body):
    """An evaluation run of a model version on a dataset version: one result per item."""

    model_version: Text(MODEL_VERSION_MAX)
    version: OptionalInteger(1) = None
    """Default: the latest version."""
    variant: Name(VARIANT_MAX) = None
    results: Annotated[list[ResultIn], Field(min_length=1)]

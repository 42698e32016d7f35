"""Bodies of the review, dataset and evaluation endpoints (issue #19), validated at the edge.

The services check the same rules again (the dashboard and the CLI call them directly); these
models give the API its shapes, a 422 naming each bad field, and unknown fields refused.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationError

from app.errors import Detail, ValidationFailed
from app.models import EVENT_TEXT_MAX, LABELS, MODEL_VERSION_MAX
from app.models.review import CATEGORY_MAX, DATASET_KEY_MAX, VARIANT_MAX

Variant = Annotated[str, Field(min_length=1, max_length=VARIANT_MAX)]
Category = Annotated[str, Field(min_length=1, max_length=CATEGORY_MAX)]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleIn(Closed):
    """Draw a review sample of a feature's AI outputs."""

    stage: StrictInt | None = Field(None, ge=1, le=2**31 - 1, description="default: the current stage")
    variant: Variant | None = None
    size: StrictInt | None = Field(None, ge=1, le=10_000, description="default: the playbook's sample_size")
    second_share: StrictFloat | StrictInt | None = Field(None, ge=0, le=1,
                                                         description="default: the playbook's second_share")
    seed: StrictInt | None = Field(None, ge=0, le=2**31 - 1)


class LabelIn(Closed):
    """A reviewer's verdict on one item."""

    label: Literal[LABELS]  # type: ignore[valid-type]
    category: Category | None = Field(None, description="required for corrected and wrong")
    fix: str | None = Field(None, max_length=EVENT_TEXT_MAX, description="the fixed version (corrected only)")


class DatasetExportIn(Closed):
    """Freeze a new version of a dataset from a filter."""

    feature: Annotated[str, Field(min_length=1, max_length=120)]
    variant: Variant | None = None
    start: date | None = None
    end: date | None = None
    category: Category | None = None


class ResultIn(Closed):
    item: StrictInt = Field(ge=1, le=2**31 - 1, description="an item_id of the dataset version")
    passed: StrictBool
    score: StrictFloat | StrictInt | None = None


class EvaluationIn(Closed):
    """An evaluation run of a model version on a dataset version: one result per item."""

    model_version: Annotated[str, Field(min_length=1, max_length=MODEL_VERSION_MAX)]
    version: StrictInt | None = Field(None, ge=1, le=2**31 - 1, description="default: the latest version")
    variant: Variant | None = None
    results: list[ResultIn] = Field(min_length=1)


DATASET_KEY = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$", "maxLength": DATASET_KEY_MAX}
Body = TypeVar("Body", bound=BaseModel)


def _where(loc: tuple) -> tuple[int | None, str]:
    """A pydantic error location as the contract's (index, field): ``results[2].item`` -> (2, item)."""
    index, parts = None, []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            if i == 1 and index is None:
                index = part
            else:
                parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    field = "".join(parts) or "(body)"
    return index, field.split(".")[-1] if index is not None else field


def parse(model: type[Body], data) -> Body:
    """``data`` validated as ``model``, or ValidationFailed (422) naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = []
        for problem in error.errors(include_url=False, include_input=False):
            index, field = _where(tuple(problem["loc"]))
            details.append(Detail(field, problem["msg"], index))
        raise ValidationFailed("invalid request body", details) from None

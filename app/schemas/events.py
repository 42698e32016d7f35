"""Usage events (``POST /events``, the events CSV, connector pulls) and voiding them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from app import plausible
from app.models import EVENT_TEXT_MAX, MODEL_VERSION_MAX, OUTCOMES
from app.models.variants import VARIANT_NAME_MAX
from app.schemas.common import (
    Body,
    Figure,
    Flag,
    KeptText,
    OptionalText,
    PastTimestamp,
    Reason,
    Text,
    choice,
    problem,
)

MAX_VOID_BATCH = 1000
MAX_EVENT_ID = 200


def _variant_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > VARIANT_NAME_MAX:
        raise problem("must be the name of one of the feature's variants")
    return value


class Event(Body):
    """One event of KPI_DEFINITIONS.md, plus ``source`` (the channel event ids are unique in)."""

    event_id: Text(MAX_EVENT_ID)
    source: OptionalText(120) = None
    """Default: the channel's own (``api``, ``csv``, ``ingest:<token>``)."""
    feature: Text(120)
    person_id: Text(200)
    occurred_at: PastTimestamp
    task: OptionalText(120) = None
    """Default ``default``."""
    ai_assisted: Flag
    duration_seconds: Figure(plausible.MAX_DURATION_SECONDS, " seconds") = None
    outcome: Annotated[Literal[OUTCOMES], BeforeValidator(choice(OUTCOMES))]
    variant: Annotated[str | None, Field(max_length=VARIANT_NAME_MAX), BeforeValidator(_variant_name)] = None
    """One of the feature's variants (checked against them by the service); absent: the variant
    the person had at ``occurred_at``."""
    cost_eur: Figure(plausible.MAX_AMOUNT_EUR, " EUR") = None
    output: KeptText(EVENT_TEXT_MAX) = None
    correction: KeptText(EVENT_TEXT_MAX) = None
    model_version: KeptText(MODEL_VERSION_MAX) = None

    @field_validator("correction")
    @classmethod
    def _fixes_an_output(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A fix of nothing cannot train or evaluate anything: the dataset needs the answer it fixes.
        # (A bad output is reported on its own; it is then absent from ``info.data``.)
        if value is not None and "output" in info.data and info.data["output"] is None:
            raise problem("a correction needs the output it corrects (send output too)")
        return value


EVENT_REQUIRED = tuple(n for n, f in Event.model_fields.items() if f.is_required())
EVENT_OPTIONAL = tuple(n for n, f in Event.model_fields.items() if not f.is_required())


def _event_ids(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise problem("must be a non-empty list of event ids")
    if len(value) > MAX_VOID_BATCH:
        raise problem(f"{len(value)} ids; one call voids at most {MAX_VOID_BATCH}, split it")
    return value


class EventVoid(Body):
    """``POST /events/void``: events of one source, by id, and why."""

    event_ids: Annotated[list[Text(MAX_EVENT_ID)], Field(min_length=1, max_length=MAX_VOID_BATCH),
                         BeforeValidator(_event_ids)]
    source: Text(120) = "api"
    reason: Reason

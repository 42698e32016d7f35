"""Features and their staged rollouts: creation, transitions, stage edits, archive, promotion."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from app import plausible
from app.schemas.common import (
    Body,
    Figure,
    Flag,
    Integer,
    OptionalText,
    OptionalTimestamp,
    Reason,
    Text,
    problem,
)
from app.schemas.variants import VariantList

# Unleash flag names must be URL-safe; the key is the flag name SDKs ask for.
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$"
STAGE_FIELDS = ("name", "cohorts", "percentage")


def _cohort_keys(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise problem("must be a list of cohort keys")
    return value


class StageIn(Body):
    """One stage of a plan: who gets the feature (cohorts, then a percentage of everyone)."""

    name: Text(200)
    cohorts: Annotated[list[str], BeforeValidator(_cohort_keys)] = []
    """Cohort keys; every one must exist (checked against the database when the service parses)."""
    percentage: Integer(0, 100) = 0

    @field_validator("cohorts")
    @classmethod
    def _known(cls, keys: list[str], info: ValidationInfo) -> list[str]:
        # The service passes the cohort keys that exist as the context; without one (the
        # document, a dry parse) existence is not judged here.
        known = info.context.get("cohorts") if isinstance(info.context, dict) else None
        if known is not None:
            missing = [k for k in dict.fromkeys(keys) if k not in known]
            if missing:
                named = ", ".join(repr(k) for k in missing)
                raise problem(f"unknown cohort{'s' if len(missing) > 1 else ''} {named}")
        return keys


def _stage_list(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise problem("must be a non-empty list of {name, cohorts, percentage}")
    return value


Stages = Annotated[list[StageIn], Field(min_length=1), BeforeValidator(_stage_list)]


class FeatureIn(Body):
    """``POST /features``: a feature with its stage plan."""

    key: Annotated[str, Field(pattern=KEY_PATTERN)]
    name: Text(200)
    description: OptionalText(10_000) = None
    owner: OptionalText(200) = None
    """Who owns the feature; default: whoever creates it."""
    baseline_days: Integer(1, plausible.MAX_BASELINE_DAYS) = 28
    estimated_minutes_saved: Figure(plausible.MAX_MINUTES) = None
    per_event_cost_eur: Figure(plausible.MAX_AMOUNT_EUR) = None
    stages: Stages
    variants: VariantList | None = None
    """The feature's variants: weights are percentages summing to 100 (docs/variants.md)."""

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        import re

        if not isinstance(value, str) or not re.match(KEY_PATTERN, value):
            raise problem("must be 1-120 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value


def _optional_reason(value: Any) -> Any:
    # Blank is absent: where a reason is required, the service says so.
    if value is not None and not isinstance(value, str):
        raise problem("must be a string")
    return value.strip() or None if isinstance(value, str) else value


OptionalReason = Annotated[str | None, Field(max_length=2000), BeforeValidator(_optional_reason)]


class Transition(Body):
    """Rollback, kill or resume (the reason is required there) and the instant it took effect."""

    effective_at: OptionalTimestamp = None
    """When it took effect (ISO 8601 with an offset); now by default, never in the future."""
    reason: OptionalReason = None


class Advance(Transition):
    """Advance to the next stage; ``override`` (with a reason) goes past a failed gate."""

    override: Flag = False


class Promote(Body):
    """Advance when the gate passes, or with ``override`` and a reason."""

    override: Flag = False
    reason: OptionalReason = None


class ReasonIn(Body):
    """A correction's required reason (archive, unarchive, void a cost entry)."""

    reason: Reason


class StagesIn(Body):
    """``PUT /features/{key}/stages``: the whole plan; reached stages must come back unchanged."""

    stages: Stages
    reason: Reason


class StagePatch(Body):
    """``PATCH /features/{key}/stages/{position}``: any of name, cohorts, percentage, and why."""

    name: Text(200) = None
    cohorts: Annotated[list[str], BeforeValidator(_cohort_keys)] = None  # type: ignore[assignment]
    percentage: Integer(0, 100) = None
    reason: Reason

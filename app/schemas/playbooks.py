"""Playbook files (``playbooks/*.yaml``): the ADKAR stages of a rollout's enablement, their
trainings, communications, pulse survey, checklist, gate and guardrails.

The loader (app/playbooks/loader.py) turns the YAML into plain data with the line of every value,
parses it with ``PlaybookFile`` and words each error as "<file> line <n>: <message>".
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    create_model,
    field_validator,
)

from app.models.variants import VARIANT_NAME_MAX
from app.schemas.common import Body, problem

# The change model every playbook follows, in this order.
ADKAR = ("awareness", "desire", "knowledge", "ability", "reinforcement")
TRAINING_FORMATS = ("workshop", "webinar", "e-learning", "office-hours", "demo", "coaching")
CHANNELS = ("email", "intranet", "chat", "town-hall", "team-meeting", "newsletter")
CADENCES = ("daily", "weekly", "biweekly", "monthly")
GUARDRAIL_ACTIONS = ("rollback", "kill")

# Gate metric -> (its one parameter, lowest allowed value, highest allowed value, integer?).
GATE_METRICS: dict[str, tuple[str, float, float | None, bool]] = {
    "days_in_stage": ("min", 0, None, True),
    "exposed_users": ("min", 0, None, True),
    "adoption_rate": ("min", 0.0, 1.0, False),
    # Judged on the 95 % interval: fails only when the whole interval is above baseline + this.
    "error_rate": ("max_increase", 0.0, 1.0, False),
    "time_saved_hours": ("min", 0.0, None, False),
    "training_completion": ("min_pct", 0.0, 100.0, False),
    "feedback_mean": ("min", 1.0, 5.0, False),
    "open_critical_feedback": ("max", 0, None, True),
    # An evaluation run on the criterion's dataset: the lower bound of its 95 % interval >= this.
    "eval_pass_rate": ("min", 0.0, 1.0, False),
}
# Metrics that also name the dataset they are judged on (``dataset: KEY`` beside the threshold).
DATASET_METRICS = ("eval_pass_rate",)
# Metrics a criterion may judge on one variant's exposed people and events (``variant: NAME``);
# eval_pass_rate on the runs of that variant's model.
VARIANT_METRICS = ("exposed_users", "adoption_rate", "error_rate", "time_saved_hours", "eval_pass_rate")
# Passes when the feature's decision rule names a winner (``variant: NAME``: that one), judged on
# the variant comparison's 95 % intervals over the stage (docs/variants.md). It has no threshold.
DECISION_METRIC = "variant_decision"
CORRECTION_RATE_ACTIONS = ("alert", "rollback")
# A stage without a ``review:`` block reviews this many outputs, this share twice.
REVIEW_SAMPLE_SIZE, REVIEW_SECOND_SHARE = 50, 0.2


def _text(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise problem("must be a non-empty text")
    return value


def _one_of(values: tuple[str, ...]):
    def check(value: Any) -> Any:
        _text(value)
        if value not in values:
            raise problem(f"{value!r} is not one of {', '.join(values)}")
        return value
    return check


def _number(low: float, high: float | None, integer: bool):
    def check(value: Any) -> Any:
        kinds = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise problem("must be a whole number" if integer else "must be a number")
        if value < low or (high is not None and value > high):
            upper = f" and {high}" if high is not None else ""
            raise problem(f"{value} is out of range (between {low}{upper})")
        return value
    return check


def _list(value: Any) -> Any:
    if not isinstance(value, list):
        raise problem("must be a list")
    if not value:
        raise problem("must not be empty")
    return value


Words = Annotated[str, BeforeValidator(_text)]
Phase = Annotated[Literal[ADKAR], BeforeValidator(_one_of(ADKAR))]


def Count(low: int, high: int | None = None) -> Any:  # noqa: N802
    return Annotated[int, BeforeValidator(_number(low, high, True))]


def Share(low: float, high: float | None) -> Any:  # noqa: N802
    """A number kept as written (80 stays 80)."""
    return Annotated[Any, BeforeValidator(_number(low, high, False)), WithJsonSchema({"type": "number"})]


def _variant_name(value: Any) -> Any:
    _text(value)
    if value == "disabled" or not VARIANT_NAME.match(value):
        raise problem(f"must be a variant name: 1-{VARIANT_NAME_MAX} letters, digits, '.', '_', '-' "
                      "or spaces, starting with a letter or digit (not 'disabled')")
    return value


# The names a feature's variants may have (app/schemas/variants.py VariantIn).
VARIANT_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._ -]{{0,{VARIANT_NAME_MAX - 1}}}$")
VariantName = Annotated[str, BeforeValidator(_variant_name)]


def _audience(value: Any) -> Any:
    _text(value)
    if value not in ("stage", "new") and not (value.startswith("cohort:") and len(value) > 7):
        raise problem("must be 'stage', 'new' or 'cohort:<cohort key>'")
    return value


class TrainingFile(Body):
    title: Words
    audience: Annotated[str, BeforeValidator(_audience)]
    """``stage`` (the stage's audience), ``new`` (the people it adds) or ``cohort:<key>``."""
    format: Annotated[Literal[TRAINING_FORMATS], BeforeValidator(_one_of(TRAINING_FORMATS))]
    duration_minutes: Count(1, 8 * 60)
    adkar: Phase


class CommunicationFile(Body):
    channel: Annotated[Literal[CHANNELS], BeforeValidator(_one_of(CHANNELS))]
    audience: Words
    timing: Words
    message: Words
    adkar: Phase


def _scale(value: Any) -> Any:
    if value != [1, 5] or not all(type(v) is int for v in value):
        raise problem("the pulse survey scale is [1, 5]")
    return value


class FeedbackFile(Body):
    cadence: Annotated[Literal[CADENCES], BeforeValidator(_one_of(CADENCES))]
    scale: Annotated[list[int], BeforeValidator(_scale)]
    questions: Annotated[list[Words], BeforeValidator(_list)]


def _criterion_model(metric: str) -> type[Body]:
    parameter, low, high, integer = GATE_METRICS[metric]
    threshold = Count(int(low), None if high is None else int(high)) if integer else Share(low, high)
    fields: dict[str, Any] = {"metric": (Literal[metric], ...), parameter: (threshold, ...)}
    if metric in DATASET_METRICS:  # judged on a dataset, named beside the threshold
        fields["dataset"] = (Words, ...)
    if metric in VARIANT_METRICS:  # optionally judged on one variant only
        fields["variant"] = (VariantName | None, None)
    return create_model(f"Gate_{metric}", __base__=Body, **fields)


class DecisionCriterion(Body):
    """``{metric: variant_decision}``: the decision rule names a winner; with ``variant``, that one."""

    metric: Literal["variant_decision"]
    variant: VariantName | None = None


# One model per gate metric: each takes its own parameter (min, max, max_increase or min_pct), an
# evaluation metric also its ``dataset``, a variant metric optionally its ``variant``.
CRITERIA: dict[str, type[Body]] = {**{metric: _criterion_model(metric) for metric in GATE_METRICS},
                                   DECISION_METRIC: DecisionCriterion}


def _metric_of(value: Any) -> str | None:
    metric = value.get("metric") if isinstance(value, dict) else None
    return metric if isinstance(metric, str) and metric in CRITERIA else None


# A gate item is the model of its metric, picked by ``metric`` (errors name the item's fields).
Criterion = Annotated[
    Union[tuple(Annotated[model, Tag(metric)] for metric, model in CRITERIA.items())],  # noqa: UP007
    Discriminator(_metric_of),
]


class GuardrailsFile(Body):
    # Every guardrail judges the error rate against the baseline; these only add rules or tune.
    action: Annotated[Literal[GUARDRAIL_ACTIONS], BeforeValidator(_one_of(GUARDRAIL_ACTIONS))]
    max_error_rate: Share(0.0, 1.0) | None = None
    error_rate_above: Share(0.0, 1.0) | None = None
    """The older name of ``max_error_rate``, still read."""
    spike_factor: Share(1.0, None) | None = None
    min_events: Count(1) = 20
    variant_max_error_rate_increase: Share(0.0, 1.0) | None = None
    """Watch each variant: trips for a variant whose error rate exceeds the control's by more than
    this (the whole 95 % interval of the difference above it); its weight goes to 0."""
    correction_rate: Annotated[Literal[CORRECTION_RATE_ACTIONS] | None,
                               BeforeValidator(_one_of(CORRECTION_RATE_ACTIONS))] = None
    """The corrected and reviewed-wrong rates against the previous stage: ``alert`` announces,
    ``rollback`` rolls back; absent leaves them unjudged."""

    @field_validator("error_rate_above")
    @classmethod
    def _one_name(cls, value: float | None, info) -> float | None:
        if value is not None and info.data.get("max_error_rate") is not None:
            raise problem("is the older name of max_error_rate: give only one")
        return value


def _adkar_order(phases: list[str]) -> list[str]:
    order = [ADKAR.index(p) for p in phases]
    if order != sorted(order):
        raise problem(f"phases must follow the ADKAR order {' -> '.join(ADKAR)}")
    return phases


def _metrics_once(gate: list[Any]) -> list[Any]:
    # An evaluation criterion may appear once per dataset, a variant criterion once per variant;
    # every other metric once.
    seen: set[tuple[str, str | None, str | None]] = set()
    for criterion in gate:
        variant = getattr(criterion, "variant", None)
        key = (criterion.metric, getattr(criterion, "dataset", None), variant)
        if key in seen:
            on = f" for variant {variant!r}" if variant is not None else ""
            raise problem(f"metric {criterion.metric!r} given twice{on}")
        seen.add(key)
    return gate


class ReviewFile(Body):
    """How the stage's AI outputs are reviewed (app/services/review/)."""

    sample_size: Count(1, 10_000) = REVIEW_SAMPLE_SIZE
    second_share: Share(0.0, 1.0) = REVIEW_SECOND_SHARE
    """The share of items a second reviewer labels too (so agreement can be measured)."""


class StageFile(Body):
    name: Words
    adkar: Annotated[list[Phase], BeforeValidator(_list)]
    trainings: Annotated[list[TrainingFile], BeforeValidator(_list)]
    communications: Annotated[list[CommunicationFile], BeforeValidator(_list)]
    feedback: FeedbackFile
    checklist: Annotated[list[Words], BeforeValidator(_list)]
    gate: Annotated[list[Criterion], BeforeValidator(_list)]
    guardrails: GuardrailsFile
    review: ReviewFile | None = None
    """Optional: without it the review defaults apply (``ReviewPlan``)."""

    _adkar = field_validator("adkar")(_adkar_order)
    _gate = field_validator("gate")(_metrics_once)


class PlaybookFile(Body):
    key: Words
    """The file's name without ``.yaml``."""
    name: Words
    description: Words
    stages: Annotated[list[StageFile], Field(min_length=1), BeforeValidator(_list)]

    @field_validator("stages")
    @classmethod
    def _adkar_throughout(cls, stages: list[StageFile]) -> list[StageFile]:
        firsts = [ADKAR.index(s.adkar[0]) for s in stages if s.adkar]
        if firsts != sorted(firsts):
            raise problem("stages must follow the ADKAR order")
        covered = {p for s in stages for p in s.adkar}
        missing = [p for p in ADKAR if p not in covered]
        if missing:
            raise problem(f"ADKAR phases never addressed: {', '.join(missing)}")
        return stages

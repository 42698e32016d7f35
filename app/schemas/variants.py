"""A feature's variants (docs/variants.md): the list as a whole, the decision rule, the bodies of the
variant endpoints.

The rules of a list live here once, so the API, the CLI, the dashboard and the feature creation all
judge it alike and name every problem at once in the contract's shape: each item's fields
(``variants[1].weight``), a name given twice (``variants[2].name``), weights not summing to 100
(``variants``). What needs the database stays in the variants service
(app/services/rollout/variants.py): once a feature has variants the same names must come back,
and a promoted variant must be one of them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from app import plausible
from app.models.variants import VARIANT_NAME_MAX
from app.schemas.common import MAX_REASON, Body, Flag, OptionalTimestamp, Reason, choice, problem

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$"
PAYLOAD_MAX_CHARS = 10_000
OBJECTIVES = ("cost_per_task", "net_eur_per_person")
ITEM_SHAPE = "{name, weight, payload?, cost_per_task_eur?}"
RULE_SHAPE = "{control, max_error_rate_increase, objective}"


def _object(shape: str):
    def check(value: Any) -> Any:
        if not isinstance(value, dict | Body):
            raise problem(f"must be an object {shape}")
        return value
    return check


def _is_name(value: Any) -> TypeGuard[str]:
    # "disabled" is what SDKs answer when the feature is off: a variant of that name would be
    # indistinguishable from no variant.
    return isinstance(value, str) and re.match(NAME_PATTERN, value) is not None and value != "disabled"


def _name(value: Any) -> str:
    if not _is_name(value):
        raise problem(f"must be 1-{VARIANT_NAME_MAX} letters, digits, '.', '_', '-' or spaces, starting "
                      "with a letter or digit (not 'disabled', which SDKs answer when the feature is off)")
    return value


def _is_weight(value: Any) -> TypeGuard[int]:
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= 100


def _weight(value: Any) -> int:
    if not _is_weight(value):
        raise problem(f"must be an integer percentage from 0 to 100, not {value!r}")
    return value


def _payload(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(json.dumps(value, sort_keys=True)) > PAYLOAD_MAX_CHARS:
        raise problem(f"must be a JSON object of at most {PAYLOAD_MAX_CHARS} characters "
                      "(vendor, model, prompt version, settings)")
    return value


def _cost(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= plausible.MAX_AMOUNT_EUR:
        raise problem(f"must be a number from 0 to {plausible.figure(plausible.MAX_AMOUNT_EUR)}")
    return float(value)


class VariantIn(Body):
    """One variant of a feature."""

    name: Annotated[str, Field(min_length=1, max_length=VARIANT_NAME_MAX, pattern=NAME_PATTERN),
                    BeforeValidator(_name)]
    """Letters, digits, '.', '_', '-' or spaces; not ``disabled`` (what SDKs answer when off)."""
    weight: Annotated[int, Field(ge=0, le=100), BeforeValidator(_weight)]
    """A percentage of the exposed people; the weights of a feature sum to 100."""
    payload: Annotated[dict | None, BeforeValidator(_payload)] = None
    """Vendor, model, prompt version, settings: a JSON object of at most 10,000 characters."""
    cost_per_task_eur: Annotated[float | None, Field(ge=0, le=plausible.MAX_AMOUNT_EUR),
                                 BeforeValidator(_cost)] = None

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        return _object(ITEM_SHAPE)(data)


def _again(error: ErrorDetails) -> InitErrorDetails:
    """A problem pydantic found, to be raised again beside the list's own."""
    kind = error["type"]
    again = InitErrorDetails(type=problem(error["ctx"]["message"]) if kind == "liftoff" else kind,
                             loc=error["loc"], input=error["input"])
    if kind != "liftoff" and "ctx" in error:
        again["ctx"] = error["ctx"]
    return again


def _list_problems(items: Sequence[Any]) -> list[InitErrorDetails]:
    """The rules of the list as a whole, over what its items say even when some are bad: a name
    given twice (named at its second place), the weights summing to 100 (once every weight reads)."""
    found: list[InitErrorDetails] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if _is_name(name):
            if name in seen:
                found.append(InitErrorDetails(type=problem(f"duplicate variant name {name!r}"),
                                              loc=(i, "name"), input=name))
            seen.add(name)
    sent = [item.get("weight") if isinstance(item, dict) else None for item in items]
    weights = [w for w in sent if _is_weight(w)]
    if weights and len(weights) == len(sent) and sum(weights) != 100:
        found.append(InitErrorDetails(type=problem(f"the weights must sum to 100, not {sum(weights)}"),
                                      loc=(), input=weights))
    return found


def _variant_list(value: Any, handler: ValidatorFunctionWrapHandler) -> list[VariantIn]:
    if not isinstance(value, list):
        raise problem(f"must be a list of {ITEM_SHAPE}")
    found: list[InitErrorDetails] = []
    variants: list[VariantIn] = []
    try:
        variants = handler(value)
    except ValidationError as error:
        found = [_again(e) for e in error.errors(include_url=False)]
    raw = [v.model_dump() if isinstance(v, VariantIn) else v for v in value]
    found += _list_problems(raw)
    if found:
        raise ValidationError.from_exception_data("variants", found)
    return variants


# An empty list is a feature without variants; otherwise unique names and weights summing to 100.
VariantList = Annotated[list[VariantIn], WrapValidator(_variant_list)]


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise problem("must be a share from 0 to 1 (0.02 = 2 points)")
    return float(value)


class VariantRule(Body):
    """Which variant wins: error rate not worse than the control's by more than the margin, and
    the objective better than the control's."""

    control: Annotated[str, Field(min_length=1, max_length=VARIANT_NAME_MAX)]
    """One of the feature's variants (the list sent with the rule)."""
    max_error_rate_increase: Annotated[float, Field(ge=0, le=1), BeforeValidator(_share)] = 0.0
    objective: Annotated[Literal["cost_per_task", "net_eur_per_person"],
                         BeforeValidator(choice(OBJECTIVES))] = "cost_per_task"

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        return _object(RULE_SHAPE)(data)


def _optional_text(value: Any) -> str | None:
    # Kept as sent (the audit trail's reason); absent is no reason.
    if value is not None and (not isinstance(value, str) or len(value) > MAX_REASON):
        raise problem(f"must be a string of at most {MAX_REASON} characters")
    return value


class VariantsPut(Body):
    """``PUT /api/v1/features/{key}/variants``: the whole list (as at creation), new weights,
    payloads and costs; the decision rule; why; when a weight change took effect."""

    variants: Annotated[VariantList, Field(min_length=1)]
    """Every variant of the feature, none left out (variants are never removed: give one weight 0)."""
    rule: VariantRule | None = None
    reason: Annotated[str | None, Field(max_length=MAX_REASON), BeforeValidator(_optional_text)] = None
    effective_at: OptionalTimestamp = None
    """Now by default; never in the future, never before the previous weight change."""

    @model_validator(mode="after")
    def _control_is_a_variant(self) -> VariantsPut:
        names = [v.name for v in self.variants]
        if self.rule is not None and self.rule.control not in names:
            raise ValidationError.from_exception_data("rule", [InitErrorDetails(
                type=problem(f"must name one of the feature's variants ({', '.join(names)})"),
                loc=("rule", "control"), input=self.rule.control)])
        return self


class VariantPromotion(Body):
    """``POST /api/v1/features/{key}/variants/{name}/promote``: the winner gets weight 100 once the
    current stage's variant criteria pass for it; ``override`` promotes anyway (audited)."""

    reason: Reason
    effective_at: OptionalTimestamp = None
    override: Flag = False


# VariantRule is named by the Feature answer (app/schemas/responses.py); both are components.
REFERRED = (VariantIn, VariantRule)

"""Bodies of the variant endpoints (docs/variants.md).

A variant list is judged as a whole by the variants service (app/services/rollout/variants.py
``parse_variants``): each item's fields, unique names, weights summing to 100, and, once variants
exist, the same names coming back. The bodies here take the list as sent and describe it to the
OpenAPI document with ``VariantIn`` and ``VariantRule`` (components the document refers to), so
the rules live once and every problem of a list is named at once (``variants[1].name``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from app import plausible
from app.models.variants import VARIANT_NAME_MAX
from app.schemas.common import Body, Flag, OptionalTimestamp, Reason

TEMPLATE = "#/components/schemas/{}"


class VariantIn(Body):
    """One variant of a feature (the document's description of a ``variants`` item)."""

    name: Annotated[str, Field(min_length=1, max_length=VARIANT_NAME_MAX,
                               pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$")]
    """Letters, digits, '.', '_', '-' or spaces; not ``disabled`` (what SDKs answer when off)."""
    weight: Annotated[int, Field(ge=0, le=100)]
    """A percentage of the exposed people; the weights of a feature sum to 100."""
    payload: dict | None = None
    """Vendor, model, prompt version, settings: a JSON object of at most 10,000 characters."""
    cost_per_task_eur: Annotated[float | None, Field(ge=0, le=plausible.MAX_AMOUNT_EUR)] = None


class VariantRule(Body):
    """Which variant wins: error rate not worse than the control's by more than the margin, and
    the objective better than the control's."""

    control: Annotated[str, Field(min_length=1, max_length=VARIANT_NAME_MAX)]
    max_error_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.0
    objective: Literal["cost_per_task", "net_eur_per_person"] = "cost_per_task"


# The list and the rule as sent: the service names each problem (app/services/rollout/variants.py).
VariantList = Annotated[Any, WithJsonSchema({"type": "array",
                                             "items": {"$ref": TEMPLATE.format("VariantIn")}})]
RuleAsSent = Annotated[Any, WithJsonSchema({"anyOf": [{"$ref": TEMPLATE.format("VariantRule")},
                                                     {"type": "null"}]})]


class VariantsPut(Body):
    """``PUT /api/v1/features/{key}/variants``: the whole list (as at creation), new weights,
    payloads and costs; the decision rule; why; when a weight change took effect."""

    variants: VariantList
    rule: RuleAsSent = None
    reason: Annotated[Any, WithJsonSchema({"type": ["string", "null"], "maxLength": 2000})] = None
    effective_at: OptionalTimestamp = None
    """Now by default; never in the future, never before the previous weight change."""


class VariantPromotion(Body):
    """``POST /api/v1/features/{key}/variants/{name}/promote``: the winner gets weight 100 once the
    current stage's variant criteria pass for it; ``override`` promotes anyway (audited)."""

    reason: Reason
    effective_at: OptionalTimestamp = None
    override: Flag = False


# Referred to by hand (WithJsonSchema) rather than by type: the document adds their schemas.
REFERRED = (VariantIn, VariantRule)

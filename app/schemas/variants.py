"""Bodies of the variant endpoints (docs/variants.md); the service checks what needs the database
(known names, weights summing to 100, the previous weight change)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    weight: int = Field(ge=0, le=100, strict=True)
    payload: dict | None = None
    cost_per_task_eur: float | None = Field(default=None, ge=0)


class VariantRule(BaseModel):
    """Which variant wins: error rate not worse than the control's by more than the margin, and
    the objective better than the control's."""

    model_config = ConfigDict(extra="forbid")

    control: str = Field(min_length=1, max_length=100)
    max_error_rate_increase: float = Field(default=0.0, ge=0, le=1)
    objective: Literal["cost_per_task", "net_eur_per_person"] = "cost_per_task"


class VariantsPut(BaseModel):
    """``PUT /api/v1/features/{key}/variants``."""

    model_config = ConfigDict(extra="forbid")

    variants: list[VariantIn] = Field(min_length=1)
    rule: VariantRule | None = None
    reason: str | None = Field(default=None, max_length=2000)
    effective_at: AwareDatetime | None = None


class VariantPromotion(BaseModel):
    """``POST /api/v1/features/{key}/variants/{name}/promote``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    effective_at: AwareDatetime | None = None


"""The enablement loop: playbooks attached, training held, feedback triaged, action items."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, WithJsonSchema, field_validator

from app import plausible
from app.models.enablement import OWNER_MAX
from app.schemas.common import (
    Body,
    Day,
    Flag,
    Integer,
    OptionalDay,
    OptionalInteger,
    OptionalText,
    OptionalTimestamp,
    Text,
    choice,
    problem,
)

ACTION_STATUSES = ("open", "done", "dropped")


class PlaybookAttach(Body):
    """``PUT /features/{key}/playbook``."""

    playbook: Text(120)


class AttendeeIn(Body):
    """An attendee of a training session; a bare person_id string stands for a completed one."""

    person_id: Text(200)
    completed: Flag = True


def bare_id(value: Any) -> Any:
    """A bare person_id string as the attendee row it stands for."""
    return {"person_id": value} if isinstance(value, str) else value


Attendee = Annotated[AttendeeIn, BeforeValidator(bare_id), WithJsonSchema(
    {"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/AttendeeIn"}]})]


class TrainingIn(Body):
    """``POST /features/{key}/trainings``: a session held for a stage, with its attendees (each
    must be in the stage's audience)."""

    stage: Integer(1)
    title: Text(200)
    trainer: Text(200)
    held_on: OptionalDay = None
    """Required unless ``starts_at`` gives it (its UTC date)."""
    starts_at: OptionalTimestamp = None
    """A session scheduled at a time of day (ISO 8601 with an offset): its UTC date is ``held_on``."""
    format: OptionalText(40) = None
    duration_minutes: OptionalInteger(1) = None
    attendees: Annotated[list[Attendee], Field(max_length=plausible.MAX_BATCH)] = []

    @field_validator("starts_at")
    @classmethod
    def _on_the_day(cls, starts_at: datetime | None, info: ValidationInfo) -> datetime | None:
        held_on = info.data.get("held_on")
        if starts_at is not None and held_on is not None and starts_at.date() != held_on:
            raise problem(f"falls on {starts_at.date().isoformat()} (UTC), not on held_on")
        return starts_at

    @field_validator("stage")
    @classmethod
    def _a_stage_of_the_feature(cls, stage: int, info: ValidationInfo) -> int:
        # The service passes the feature's stage positions as the context.
        positions = info.context.get("stages") if isinstance(info.context, dict) else None
        if positions is not None and stage not in positions:
            raise problem(f"must be one of the feature's stages {positions}")
        return stage


class TriageIn(Body):
    """``POST /feedback/{id}/triage``: the next status, and who owns it from "triaged" on."""

    status: Text(20)
    owner: OptionalText(OWNER_MAX) = None


Status = Annotated[Literal[ACTION_STATUSES], BeforeValidator(choice(ACTION_STATUSES))]


class ActionItemIn(Body):
    """``POST /features/{key}/action-items``: title, owner and due date are required."""

    title: Text(200)
    owner: Text(OWNER_MAX)
    due_on: Day
    status: Status = "open"


class ActionItemPatch(Body):
    """``PATCH /action-items/{id}``: only the fields sent change."""

    title: Text(200) = None
    owner: Text(OWNER_MAX) = None
    due_on: Day = None  # type: ignore[assignment]
    status: Status = None

"""What a rollout action would do to the audience, in people, before anyone confirms it.

The audience now and the audience after are derived by the same function that opens the exposure
spells (``audience.stages.stage_audience``, bucketing as the SDKs do), so the numbers the confirm dialog
states are the ones the spells will show once the action is taken. Reads only; nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import Detail, ValidationFailed
from app.services.audience.stages import People, production_audience, stage_audience
from app.services.rollout import transitions as rollout

ACTIONS = ("advance", "rollback", "kill", "resume")


@dataclass(frozen=True)
class Impact:
    """``gain`` people get the feature, ``lose`` lose it, ``keep`` keep it; ``total`` have it after."""

    action: str
    from_name: str
    to_name: str
    gain: int
    lose: int
    keep: int
    total: int
    before: int

    @property
    def sentence(self) -> str:
        """E.g. "Roll back to Pilot: 137 people lose it, 83 keep it; 83 have it after."."""
        head = {"advance": f"Advance to {self.to_name}", "rollback": f"Roll back to {self.to_name}",
                "kill": f"Kill at {self.from_name}", "resume": f"Resume at {self.to_name}"}[self.action]
        parts = [f"{_people(self.gain)} gain it" if self.gain else "",
                 f"{_people(self.lose)} lose it" if self.lose else "",
                 f"{_people(self.keep)} keep it" if self.keep else ""]
        effect = ", ".join(p for p in parts if p) or "nobody's access changes"
        return f"{head}: {effect}; {_people(self.total)} have it after (+{self.gain}, -{self.lose})."


def _people(n: int) -> str:
    return f"{n:,} {'person' if n == 1 else 'people'}".replace(",", "\u202f")


def _name(feature, position: int) -> str:
    if position <= 0:
        return "off (nobody)"
    return next((s.name for s in feature.stages if s.position == position), f"stage {position}")


def preview(key: str, action: str) -> Impact:
    """The audience change ``action`` would make now, without making it.

    :raises ValidationFailed: unknown action.
    :raises NotFound: no such feature.
    """
    if action not in ACTIONS:
        raise ValidationFailed("unknown action", [Detail("action", f"must be one of {', '.join(ACTIONS)}")])
    feature = rollout._load(key)
    people = People()
    before = production_audience(feature, people)
    stage = feature.current_stage
    off = feature.archived_at is not None
    if action == "advance":
        to_stage = min(stage + 1, len(feature.stages))
        after = set() if off or feature.killed else stage_audience(feature, to_stage, people)
    elif action == "rollback":
        to_stage = max(stage - 1, 0)
        after = set() if off or feature.killed else stage_audience(feature, to_stage, people)
    elif action == "kill":
        to_stage, after = stage, set()
    else:
        to_stage = stage
        after = set() if off else stage_audience(feature, stage, people)
    return Impact(action=action, from_name=_name(feature, stage), to_name=_name(feature, to_stage),
                  gain=len(after - before), lose=len(before - after), keep=len(before & after),
                  total=len(after), before=len(before))

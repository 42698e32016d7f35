"""What Liftoff last wrote to (or accepted from) Unleash per feature, kept in the audit log.

Drift detection is a three-way comparison: Liftoff's state now, Unleash's state now, and this
baseline. Unleash differing from the baseline is drift (someone used Unleash's UI); Liftoff
differing from it while Unleash does not is just a Liftoff change to apply (e.g. a cohort's members).
States are stored as hashes so the log stays small with large cohorts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flags.unleash_apply import FeatureState
from app.models import AuditEntry

SYSTEM_ACTOR = "system:unleash-sync"
APPLIED = "unleash.applied"
REAPPLIED = "unleash.drift_reapplied"
ADOPTED = "unleash.drift_adopted"


def digest(state: FeatureState) -> str:
    return hashlib.sha256(state.snapshot().encode()).hexdigest()


@dataclass(frozen=True)
class Baseline:
    liftoff: str  # digest of Liftoff's state when written or adopted
    unleash: str  # digest of the state Unleash was left in


def last_baseline(session: Session, key: str) -> Baseline | None:
    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == "feature", AuditEntry.entity_key == key,
               AuditEntry.action.in_((APPLIED, REAPPLIED, ADOPTED)))
        .order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if entry is None or not entry.after:
        return None
    data = json.loads(entry.after)
    return Baseline(data["liftoff"], data["unleash"])


def record(session: Session, action: str, key: str, liftoff: FeatureState, unleash: FeatureState,
           changes: list[str], reason: str | None = None, before: FeatureState | None = None) -> None:
    """Append the audit entry that is also the new baseline of ``key``."""
    after = {"liftoff": digest(liftoff), "unleash": digest(unleash), "changes": changes}
    session.add(AuditEntry(
        actor=SYSTEM_ACTOR, action=action, entity_type="feature", entity_key=key,
        before=json.dumps({"unleash": digest(before)}) if before is not None else None,
        after=json.dumps(after), reason=reason,
    ))

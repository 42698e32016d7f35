"""Append-only audit entries for what the enablement, gate and guardrail code changes."""

from __future__ import annotations

import json

from app.db import db
from app.models import AuditEntry


def audit(actor: str, action: str, entity_type: str, entity_key: str, before: dict | None = None,
          after: dict | None = None, reason: str | None = None) -> AuditEntry:
    """Add one audit entry (flushed, not committed)."""
    entry = AuditEntry(
        actor=actor, action=action, entity_type=entity_type, entity_key=str(entity_key),
        before=json.dumps(before, default=str) if before is not None else None,
        after=json.dumps(after, default=str) if after is not None else None,
        reason=reason,
    )
    db.session.add(entry)
    db.session.flush()
    return entry

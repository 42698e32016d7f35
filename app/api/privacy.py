"""GDPR: one person's data export and erasure (admins only)."""

from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.api.declare import answers
from app.db import db
from app.schemas.responses import ref
from app.security import acting_identity, requires
from app.services.people import privacy


@bp.get("/people/<path:person_id>/export")
@requires("privacy:admin")
@answers(ref("PersonExport"))
def export_person(person_id: str):
    """Everything held about one person."""
    return jsonify(privacy.export_person(person_id))


@bp.post("/people/<path:person_id>/erase")
@requires("privacy:admin")
@answers(ref("Erased"))
def erase_person(person_id: str):
    """Erase what identifies the person; the aggregate KPIs stay as they were."""
    result = privacy.erase_person(person_id, acting_identity().name)
    db.session.commit()
    return jsonify(result)

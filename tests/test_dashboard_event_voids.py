"""The Operations page's "Void events" panel (dashboards/operations/event_voids.py), its actions called as the
callbacks call them: admins only (``events:void``), a required reason, every bad id named, the
confirmation's count and refresh, and the service's effects."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.errors import ValidationFailed
from app.models import AuditEntry, Event
from app.models.kpi import DirtyDay, MonthlyClose
from app.security import PERMISSIONS, Identity, NotAllowed
from dashboards.operations import actions
from tests.helpers import gen_feature, gen_person, utc

ROLES = ("admin", "product", "change_manager", "executive")


def who(role: str) -> Identity:
    return Identity(name=f"{role}@corp.test", role=role)


def _event(feature, person, event_id: str, at, source: str = "api", voided=None) -> None:
    db.session.add(Event(source=source, event_id=event_id, feature_id=feature.id, person_id=person.id,
                         occurred_at=at, task="quote", ai_assisted=True, duration_seconds=60.0,
                         outcome="success", voided_at=voided))


@pytest.fixture
def events(app):
    """drafts: e1 on 2026-10-03 23:30 UTC, e2 on 2026-10-05, e3 (void already) on 2026-10-07, and
    c1 from the source "crm"; other: o1 on 2026-11-02. October is closed."""
    drafts, other = gen_feature("drafts"), gen_feature("other")
    person = gen_person("p1")
    _event(drafts, person, "e1", utc(2026, 10, 3, 23, 30))
    _event(drafts, person, "e2", utc(2026, 10, 5, 9))
    _event(drafts, person, "e3", utc(2026, 10, 7, 9), voided=utc(2026, 10, 8))
    _event(drafts, person, "c1", utc(2026, 10, 6, 9), source="crm")
    _event(other, person, "o1", utc(2026, 11, 2, 9))
    db.session.add(MonthlyClose(month="2026-10", fingerprint="f" * 64, figures="{}"))
    db.session.commit()
    return {"drafts": drafts.id, "other": other.id}


def _voided() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(Event.event_id).where(Event.voided_at.is_not(None))))


def test_the_ids_are_read_one_a_line_or_comma_separated():
    assert actions.event_ids("e1\ne2, e3\r\n\n ,e4 ") == ["e1", "e2", "e3", "e4"]
    assert actions.event_ids("") == [] and actions.event_ids(None) == []


@pytest.mark.parametrize("role", ROLES)
def test_only_the_roles_of_the_matrix_void_events(app, role):
    assert actions.may_void_events(who(role)) is (role in PERMISSIONS["events:void"][1])
    assert actions.may_void_events(who(role)) is (role == "admin")  # by hand: admins only
    assert not actions.may_void_events(None)


@pytest.mark.parametrize("role", ["product", "change_manager", "executive"])
def test_other_roles_are_refused_and_nothing_is_written(events, role):
    with pytest.raises(NotAllowed, match="may not void events"):
        actions.preview_event_void("e1", "", who(role), "why")
    with pytest.raises(NotAllowed, match="may not void events"):
        actions.void_event_ids(["e1"], "", who(role), "why")
    db.session.rollback()
    assert _voided() == {"e3"}
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "events.void")) is None
    assert db.session.scalars(select(DirtyDay.day)).all() == []


def test_the_preview_counts_the_events_and_names_the_refresh_before_anything_is_written(events):
    preview = actions.preview_event_void("e1\ne2, e3\ne1", None, who("admin"), "imported twice")
    assert preview == {"ids": ["e1", "e2", "e3"], "source": "api", "fresh": 2, "already": 1,
                       "features": ["drafts"], "first_day": "2026-10-03", "last_day": "2026-10-05",
                       "closed_months": ["2026-10"]}
    assert actions.preview_event_void("o1", "", who("admin"), "x")["closed_months"] == []
    assert _voided() == {"e3"}
    from dashboards.operations.event_voids import confirmation

    assert confirmation(preview) == (
        "2 events of source 'api' will be voided (1 already void, left as they are). The next KPI "
        "refresh (refresh-kpis) recomputes every KPI of drafts for 2026-10-03 to 2026-10-05; closed "
        "month 2026-10 will be marked restated.")
    only_void = actions.preview_event_void("e3", "api", who("admin"), "x")
    assert confirmation(only_void) == "0 events of source 'api' will be voided (1 already void, " \
                                      "left as they are). Nothing changes."


def test_every_unknown_id_is_named_with_its_place_and_nothing_is_voided(events):
    for call in (lambda: actions.preview_event_void("e1\nnope, c1", "", who("admin"), "x"),
                 lambda: actions.void_event_ids(["e1", "nope", "c1"], "", who("admin"), "x")):
        with pytest.raises(ValidationFailed) as refused:
            call()
        named = [(d.index, d.field, d.message) for d in refused.value.details]
        # c1 exists, but from the source "crm", not "api".
        assert named == [(1, "event_ids", "no event 'nope' from source 'api'"),
                         (2, "event_ids", "no event 'c1' from source 'api'")]
        db.session.rollback()
        assert _voided() == {"e3"}


@pytest.mark.parametrize(("ids", "reason", "field"), [("e1", "  ", "reason"), ("e1", None, "reason"),
                                                      (" \n, ", "why", "event_ids")])
def test_a_missing_reason_or_no_ids_is_refused(events, ids, reason, field):
    with pytest.raises(ValidationFailed) as refused:
        actions.preview_event_void(ids, "", who("admin"), reason)
    assert [d.field for d in refused.value.details] == [field]
    with pytest.raises(ValidationFailed) as refused:
        actions.void_event_ids(actions.event_ids(ids), "", who("admin"), reason)
    assert [d.field for d in refused.value.details] == [field]
    db.session.rollback()
    assert _voided() == {"e3"}


def test_more_ids_than_one_void_takes_are_refused(events):
    with pytest.raises(ValidationFailed) as refused:
        actions.preview_event_void("\n".join(f"x{i}" for i in range(1001)), "", who("admin"), "x")
    assert refused.value.details[0].field == "event_ids" and "1001 ids" in refused.value.details[0].message


def test_an_admin_voids_events_audited_and_marked_for_the_refresh(events):
    result = actions.void_event_ids(actions.event_ids("e1, e2\ne3"), " ", who("admin"), "imported twice")
    db.session.commit()
    assert (result.voided, result.already_voided) == (["e1", "e2"], ["e3"])
    assert _voided() == {"e1", "e2", "e3"}
    audit = db.session.execute(select(AuditEntry.actor, AuditEntry.reason, AuditEntry.entity_key)
                               .where(AuditEntry.action == "events.void")).all()
    assert [tuple(a) for a in audit] == [("admin@corp.test", "imported twice", "api")]
    dirty = db.session.execute(select(DirtyDay.feature_id, DirtyDay.day).order_by(DirtyDay.day)).all()
    assert [(f, d.isoformat()) for f, d in dirty] == [(events["drafts"], "2026-10-03"),
                                                      (events["drafts"], "2026-10-05")]
    again = actions.void_event_ids(["c1"], "crm", who("admin"), "test data")  # another source
    db.session.commit()
    assert (again.voided, again.already_voided) == (["c1"], [])

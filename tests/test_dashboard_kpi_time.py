"""Time on the KPI pages (dashboards.kpi.periods and kpi_data.month_options): which months are offered,
which are refused and why, how a month stands, how fresh each feature's data is, and the rollout
changes the weekly charts mark. Expected values are worked out by hand from the rows each test adds."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from app.db import db, utcnow
from app.models import CostEntry, Event, RolloutStage, RolloutTransition
from app.models.kpi import FeatureDay
from dashboards.kpi import data as kpi_data
from dashboards.kpi import periods as kpi_time
from dashboards.kpi import view as kv
from tests.helpers import gen_feature, gen_person, utc

NOW = utc(2026, 11, 20, 12, 0)


def _day(feature, day: date) -> None:
    db.session.add(FeatureDay(feature_id=feature.id, day=day, department_id=0, task="t",
                              month=day.strftime("%Y-%m"), ai_tasks=1))


def _event(feature, person, at, n: int, voided=None) -> None:
    db.session.add(Event(event_id=f"e{n}", feature_id=feature.id, person_id=person.id, occurred_at=at,
                         ai_assisted=True, outcome="success", voided_at=voided))


def test_months_offered_are_those_with_data_or_costs_and_never_ahead(app):
    feature = gen_feature("draft")
    _day(feature, date(2026, 8, 3))
    _day(feature, date(2026, 10, 5))
    db.session.add(CostEntry(feature_id=feature.id, month="2026-06", amount_eur=10, category="licences"))
    # A cost booked ahead (a yearly licence invoiced early) must not put a future month in the picker.
    future = (utcnow().replace(day=1) + timedelta(days=70)).strftime("%Y-%m")
    db.session.add(CostEntry(feature_id=feature.id, month=future, amount_eur=10, category="licences"))
    db.session.flush()
    # 2026-07 and 2026-09 have nothing: not offered (the old picker filled every month in between).
    assert kpi_data.month_options() == ["2026-10", "2026-08", "2026-06"]


def test_with_nothing_known_the_picker_offers_this_month(app):
    assert kpi_data.month_options() == [utcnow().strftime("%Y-%m")]


def test_bad_and_future_months_are_refused_with_a_reason():
    assert kpi_time.month_refusal(None, NOW) is None
    assert kpi_time.month_refusal("", NOW) is None
    assert kpi_time.month_refusal("2026-11", NOW) is None
    refusal = "The month asked for is not a month: write it as YYYY-MM, e.g. 2026-10."
    assert kpi_time.month_refusal("2026-13", NOW) == refusal
    assert "not a month" in kpi_time.month_refusal("0000-01", NOW)
    assert kpi_time.month_refusal("2026-12", NOW) == "2026-12 is in the future: no figures exist for it yet."


def test_a_past_month_not_closed_is_not_called_open():
    assert kpi_time.month_state("2026-11", closed=False, now=NOW) == "open"
    assert kpi_time.month_state("2026-10", closed=False, now=NOW) == "not closed yet"
    assert kpi_time.month_state("2026-10", closed=True, now=NOW) == "closed"


def test_month_has_events_per_month_and_per_feature(app):
    draft, other = gen_feature("draft"), gen_feature("other")
    _day(draft, date(2026, 10, 5))
    db.session.flush()
    assert kpi_time.month_has_events("2026-10")
    assert kpi_time.month_has_events("2026-10", "draft")
    assert not kpi_time.month_has_events("2026-10", other.key)
    assert not kpi_time.month_has_events("2026-11")


def test_data_through_flags_a_live_feature_silent_for_over_two_days(app):
    person = gen_person("p1")
    fresh = gen_feature("fresh", name="A fresh one")
    silent = gen_feature("silent", name="B silent one")
    idle = gen_feature("idle", name="C not started")
    for feature in (fresh, silent):
        feature.current_stage = 1
    _event(fresh, person, NOW - timedelta(days=1), 1)
    _event(silent, person, NOW - timedelta(days=3), 2)
    # A voided event does not count as data: the silent one's newest real event is 3 days old.
    _event(silent, person, NOW - timedelta(hours=1), 3, voided=NOW)
    _event(idle, person, NOW - timedelta(days=30), 4)
    db.session.flush()
    through = kpi_time.data_through(NOW).set_index("feature")
    assert list(through.index) == ["fresh", "silent", "idle"]  # by name
    assert through.loc["fresh", "last_event_at"] == pd.Timestamp("2026-11-19 12:00", tz="UTC")
    assert through.loc["silent", "last_event_at"] == pd.Timestamp("2026-11-17 12:00", tz="UTC")
    assert list(through["late"]) == [False, True, False]  # idle is not live: silence is expected


def test_rollout_marks_name_the_stage_each_change_went_to(app):
    feature = gen_feature("draft")
    db.session.add_all([RolloutStage(feature=feature, position=1, name="Champions", cohorts=[]),
                        RolloutStage(feature=feature, position=2, name="Pilot", cohorts=[])])
    for action, to_stage, killed, at in (("advance", 1, False, utc(2026, 9, 1)),
                                         ("advance", 2, False, utc(2026, 9, 15)),
                                         ("kill", 2, True, utc(2026, 10, 2))):
        db.session.add(RolloutTransition(feature=feature, action=action, from_stage=to_stage - 1,
                                         to_stage=to_stage, killed_after=killed, effective_at=at,
                                         actor="t", reason="r"))
    db.session.flush()
    marks = kpi_time.rollout_marks("draft")
    assert [m["label"] for m in marks] == ["Champions", "Pilot", "killed"]
    assert marks[0]["at"] == pd.Timestamp("2026-09-01", tz="UTC")
    assert kpi_time.rollout_marks("nope") == []
    # A chart of the weeks from 2026-09-07 to 2026-10-05 (+ its last week) shows the two later changes.
    shapes, notes = kv.rollout_lines(marks, date(2026, 9, 7), date(2026, 10, 5))
    assert [s["x0"] for s in shapes] == ["2026-09-15 00:00", "2026-10-02 00:00"]
    assert [n["text"] for n in notes] == ["→ Pilot", "→ killed"]


def test_the_sequential_scale_is_lightest_at_zero():
    low, high = kv.SEQUENTIAL[0], kv.SEQUENTIAL[-1]

    def lightness(hex_colour: str) -> int:
        return sum(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))

    assert (low[0], high[0]) == (0, 1)
    assert lightness(low[1]) > lightness(high[1])


def test_monthly_charts_mark_the_months_with_rollout_changes(app):
    quote, cv = gen_feature("quote", name="Quote"), gen_feature("cv", name="CV")
    for feature in (quote, cv):
        db.session.add(RolloutStage(feature=feature, position=1, name="Champions", cohorts=[]))
    for feature, at in ((quote, utc(2026, 9, 3)), (cv, utc(2026, 9, 20)), (quote, utc(2026, 10, 1))):
        db.session.add(RolloutTransition(feature=feature, action="advance", from_stage=0, to_stage=1,
                                         killed_after=False, effective_at=at, actor="t", reason="r"))
    db.session.flush()
    changes = kpi_time.rollout_changes_by_month()
    assert sorted(changes["2026-09"]) == ["CV → Champions", "Quote → Champions"]
    assert changes["2026-10"] == ["Quote → Champions"]
    shapes, notes = kv.month_rollout_lines(["2026-08", "2026-09", "2026-10"], changes)
    assert [s["x0"] for s in shapes] == ["2026-09", "2026-10"]
    assert [n["text"] for n in notes] == ["2 changes", "1 change"]
    assert notes[1]["hovertext"] == "Quote → Champions"
    assert "CV → Champions" in notes[0]["hovertext"]

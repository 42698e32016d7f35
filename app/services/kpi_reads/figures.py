"""KPI and ROI reads: load the rollups refresh-kpis materialised, call the one KPI module.

The API, the dashboard, exports and the monthly close all read through these functions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd
from flask import current_app
from sqlalchemy import DateTime, case, func, or_, select, type_coerce

from app import kpi
from app.db import column_lists, db
from app.errors import NotFound
from app.kpi.fingerprint import fingerprint
from app.kpi.membership import HISTORY_COLUMNS, groups_at, reference_instants
from app.models import (
    Baseline,
    Cohort,
    CohortMember,
    CostEntry,
    Department,
    DepartmentMembership,
    ExposureSpell,
    Feature,
    Person,
)
from app.models.kpi import SUM_COLUMNS, ActivityDay, FeatureDay, FeatureMonth, FirstUse
from app.services.audience import membership
from app.services.kpi_reads import answers, day_blocks, variant_costs, variant_exposure
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads.close_state import close_status
from app.services.rollups.department_at import department_on

NO_DEPARTMENT = "(no department)"
GROUP_BYS = ("department", "cohort", "variant")
# Breakdowns whose groups split the people (each person in one group): complementary suppression.
SPLITTING_GROUP_BYS = ("department", "variant")


def _frame(stmt, columns: list[str]) -> pd.DataFrame:
    rows = db.session.execute(stmt).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def _bulk_frame(stmt, columns: list[str]) -> pd.DataFrame:
    """The rows of ``stmt`` as a frame, in no particular order, read column by column
    (``app.db.column_lists``: on PostgreSQL one array per column, parsed in C). At 10^4 rows,
    turning each row into Python objects and back into columns cost ten times the query (150 ms
    against 16 ms for a month of one feature at 10 M events). Values come as the driver types them
    (timestamps naive UTC, as stored)."""
    return pd.DataFrame(dict(zip(columns, column_lists(stmt), strict=True)), columns=columns)


def _sums_by_person(feature_id: int, lo: date, hi: date) -> pd.DataFrame:
    """Per person x task x department event sums of a feature over the days [lo, hi]: the
    department (0: none) each day's events count for, as the rollups count it (its end)."""
    department = func.coalesce(DepartmentMembership.department_id, 0)
    stmt = (
        select(ActivityDay.person_id, ActivityDay.task, department,
               *[func.sum(getattr(ActivityDay, c)) for c in SUM_COLUMNS])
        .select_from(ActivityDay)
        .outerjoin(DepartmentMembership, department_on(ActivityDay.person_id, ActivityDay.day, _dialect()))
        .where(ActivityDay.feature_id == feature_id, ActivityDay.day.between(lo, hi))
        .group_by(ActivityDay.person_id, ActivityDay.task, department)
    )
    frame = _bulk_frame(stmt, ["person_id", "task", "department_id", *SUM_COLUMNS])
    frame[list(SUM_COLUMNS)] = frame[list(SUM_COLUMNS)].astype("float64")
    return frame


def _ai_days(feature_id: int, lo: date, hi: date) -> pd.DataFrame:
    """Per person: the days in [lo, hi] with an AI event."""
    stmt = (select(ActivityDay.person_id, func.count(func.distinct(ActivityDay.day)))
            .where(ActivityDay.feature_id == feature_id, ActivityDay.ai_tasks > 0,
                   ActivityDay.day.between(lo, hi))
            .group_by(ActivityDay.person_id))
    return _bulk_frame(stmt, ["person_id", "days"])


def _active_days(feature_id: int, start: date, end: date, version: str | None) -> pd.DataFrame:
    """Per person with an AI event in either range: days with one in [start, end]
    (``active_days``) and in the 30 days ending on ``end`` (``habit_days``). Days of disjoint
    weeks add up, so both are sums of the weeks' counts (``day_blocks``)."""
    def days_since(lo: date) -> pd.Series:
        days = day_blocks.summed("ai_days", _ai_days, ["person_id"], feature_id, lo, end, version)
        return days.set_index("person_id")["days"]

    def compute() -> pd.DataFrame:
        habit_start = end - timedelta(days=kpi.window.HABIT_DAYS - 1)
        both = pd.concat({"active_days": days_since(start), "habit_days": days_since(habit_start)}, axis=1)
        both = both.fillna(0).astype("int64").rename_axis("person_id").reset_index()
        return both.astype({"person_id": "int64"})

    return kpi_cache.cached(version, ("active_days", feature_id, start, end), compute)


def _feature(key: str) -> Feature:
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature {key!r}")
    return feature


def _spells(feature_id: int) -> pd.DataFrame:
    # Plain DateTime (naive UTC) skips the per-value tz conversion of UTCDateTime on 10^4 rows.
    stmt = select(ExposureSpell.person_id, type_coerce(ExposureSpell.start_at, DateTime),
                  type_coerce(ExposureSpell.end_at, DateTime)).where(
        ExposureSpell.feature_id == feature_id)
    return _bulk_frame(stmt, ["person_id", "start_at", "end_at"])


def _explicit_baselines(feature_id: int | None = None) -> pd.DataFrame:
    stmt = select(Baseline.feature_id, Baseline.task, Baseline.minutes_per_task, Baseline.error_rate,
                  Baseline.measured_at, Baseline.id).order_by(Baseline.measured_at, Baseline.id)
    if feature_id is not None:
        stmt = stmt.where(Baseline.feature_id == feature_id)
    return _frame(stmt, ["feature_id", "task", "minutes_per_task", "error_rate", "measured_at", "id"])


def default_rate() -> float:
    return float(current_app.config.get("DEFAULT_HOURLY_RATE", 40.0))


def people_frame() -> pd.DataFrame:
    """Every person: id, department name and hourly rate in euros (the default when unset)."""
    stmt = select(Person.id, Department.name, Department.hourly_rate_eur).outerjoin(
        Department, Department.id == Person.department_id)
    frame = _bulk_frame(stmt, ["person_id", "department", "rate"])
    frame["department"] = frame["department"].fillna(NO_DEPARTMENT)
    frame["rate"] = frame["rate"].astype("float64").fillna(default_rate())
    return frame


def department_rates() -> dict[int, float]:
    """Hourly rate per department id (0: no department), the organisation default when unset."""
    default = default_rate()
    rates = {int(i): default if r is None else float(r)
             for i, r in db.session.execute(select(Department.id, Department.hourly_rate_eur))}
    rates[0] = default
    return rates


def department_history(people: pd.DataFrame) -> pd.DataFrame:
    """Every person's recorded departments as ``HISTORY_COLUMNS`` (group: the department's
    name). Someone with a department and nothing recorded yet has held it since the beginning."""
    recorded = membership.department_history().rename(columns={"department": "group"})
    unrecorded = people[~people["person_id"].isin(recorded["person_id"])
                        & (people["department"] != NO_DEPARTMENT)]
    extra = pd.DataFrame({"person_id": unrecorded["person_id"], "group": unrecorded["department"],
                          "valid_from": pd.NaT, "valid_to": pd.NaT})
    parts = [frame[HISTORY_COLUMNS] for frame in (recorded, extra) if not frame.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=HISTORY_COLUMNS)


def kpi_inputs(key: str, start: date, end: date) -> tuple[kpi.WindowInputs, pd.DataFrame]:
    """The KPI module's inputs for a feature over [start, end], and the people frame.

    :param key: the feature's key (404 when unknown).
    """
    feature = _feature(key)
    version = kpi_cache.version()
    live = _live_window_parts(feature, version)
    return _window_inputs(feature, start, end, live, version), live["people"]


def _live(version: str | None) -> str | None:
    """The live inputs' version, for what depends on no rollup; None (nothing remembered) when
    ``version`` is None (this transaction's own KPI writes are not committed)."""
    return None if version is None else kpi_cache.live_version()


def _live_window_parts(feature: Feature, version: str | None) -> dict:
    """What a feature's KPIs read besides the rollups: its spells, everyone's department and
    rate, its explicit baselines. Remembered under the live revision, which every write to them
    bumps and a refresh does not: at 100,000 people they were most of a first read after one.

    :param version: ``kpi_cache.version()`` (None: remember nothing).
    """
    live = _live(version)
    parts = kpi_cache.cached(live, ("live", feature.id), lambda: {
        "spells": _spells(feature.id), "explicit": _explicit_baselines(feature.id),
        "department_rates": department_rates()})
    # Everyone's department and rate, one entry for every feature: at 100,000 people a copy per
    # feature would take ~8 MB each of the memo's budget and push other entries out.
    parts["people"] = kpi_cache.cached(live, ("people",), people_frame)
    return parts


def _window_sums(feature_id: int, lo: date, hi: date, version: str | None, whole: bool = False
                 ) -> pd.DataFrame:
    """``_sums_by_person`` over [lo, hi], remembered block by block (``day_blocks.summed``): a
    refresh of one day re-reads one day of a window, and none of a window it did not touch
    (``whole``: remembered as one sum)."""
    return day_blocks.summed("sums", _sums_by_person, ["person_id", "task", "department_id"], feature_id,
                             lo, hi, version, whole)


def _baseline_activity(feature: Feature, spells: pd.DataFrame, version: str | None) -> pd.DataFrame:
    """Per person x task sums over the feature's baseline window (none before any exposure),
    remembered whole: only read, never changed, by the KPI module."""
    b_window = kpi.baseline_window(spells, feature.baseline_days)
    if b_window is None:
        return _sums_by_person(feature.id, date(1970, 1, 2), date(1970, 1, 1))
    return _window_sums(feature.id, *b_window, version, whole=True)


def _window_inputs(feature: Feature, start: date, end: date, live: dict,
                   version: str | None) -> kpi.WindowInputs:
    spells, people = live["spells"], live["people"]
    first_use = _first_uses(feature.id, version)
    active_days = _active_days(feature.id, start, end, version)
    activity = _window_sums(feature.id, start, end, version)
    # Each day's events are valued at the rate of the department they count for.
    activity = activity.assign(rate=activity["department_id"].map(live["department_rates"])
                               .astype("float64").fillna(default_rate()))
    return kpi.WindowInputs(
        feature=feature.key, start=start, end=end,
        activity=activity,
        active_days=active_days,
        spells=spells, first_use=first_use,
        baseline_activity=_baseline_activity(feature, spells, version),
        explicit_baselines=live["explicit"],
        rates=people.set_index("person_id")["rate"],
        estimated_minutes_saved=float(feature.estimated_minutes_saved or 0.0),
        baseline_days=int(feature.baseline_days or 28),
        # Who was exposed in the window, and when first: the spells' alone, so kept under the live
        # revision (not copied: the KPI module only reads them).
        remember=lambda name, compute: kpi_cache.cached(
            _live(version), ("window_spells", feature.id, start, end, name), compute, copies=False),
    )


def _first_uses(feature_id: int, version: str | None) -> pd.DataFrame:
    """Every first AI use of the feature. On PostgreSQL remembered under the live revision and a
    stamp of the feature's first-use rows (``day_blocks.rows_stamp``), so it outlives a refresh
    that moved none of them (at 100,000 people a fifth of the first read after one); after a
    refresh that did, only the rows it wrote are read (``_first_uses_since``)."""
    def read(*where) -> pd.DataFrame:
        return _bulk_frame(select(FirstUse.person_id, type_coerce(FirstUse.first_ai_at, DateTime))
                           .where(FirstUse.feature_id == feature_id, *where), ["person_id", "first_ai_at"])

    if version is None or _dialect() != "postgresql":
        return kpi_cache.cached(version, ("first_use", feature_id), read)
    stamp = kpi_cache.cached(version, ("first_use_stamp", feature_id), lambda: day_blocks.rows_stamp(
        FirstUse.__tablename__, FirstUse.feature_id == feature_id))
    live = kpi_cache.live_version()
    return kpi_cache.cached(live, ("first_use", feature_id, stamp),
                            lambda: _first_uses_since(live, feature_id, stamp, read))


def _first_uses_since(live: str | None, feature_id: int, stamp: day_blocks.Stamp,
                      read: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """The first uses under ``stamp``: those remembered under the newest earlier stamp, with the
    rows written since (a newer ``xmin``: a new first use, or an earlier one a late event brought)
    put in place of theirs. A refresh that deleted a row (a void) leaves fewer rows than that
    gives, and then everything is read again."""
    before = kpi_cache.newest(live, ("first_use", feature_id), lambda rest: rest[0][1])
    if before is None or before[0][0][1] >= stamp[1]:
        return read()
    (old_stamp,), old = before
    newer = read(day_blocks.written_by(FirstUse.__tablename__) > old_stamp[1])
    kept = old[~old["person_id"].isin(newer["person_id"])]
    merged = pd.concat([kept, newer], ignore_index=True) if len(newer) else kept.reset_index(drop=True)
    return merged if len(merged) == stamp[0] else read()


def _week_of(weeks: list[tuple[date, date]]):
    """SQL: the index of the window in ``weeks`` holding a rollup row's day."""
    return case(*[(ActivityDay.day.between(lo, hi), i) for i, (lo, hi) in enumerate(weeks)], else_=None)


def trend_inputs(key: str, weeks: list[tuple[date, date]]) -> tuple[kpi.TrendInputs, pd.DataFrame]:
    """The KPI module's inputs for the weekly trends of a feature over consecutive ``weeks``, and
    the people frame: two reads of the rollups in all, whatever the number of weeks and groups.

    :param key: the feature's key (404 when unknown).
    """
    feature = _feature(key)
    version = kpi_cache.version()
    live = _live_window_parts(feature, version)
    week = _week_of(weeks).label("week")
    in_range = [ActivityDay.feature_id == feature.id, ActivityDay.day.between(weeks[0][0], weeks[-1][1])]

    def active() -> pd.DataFrame:
        return _bulk_frame(select(week, ActivityDay.person_id).where(*in_range, ActivityDay.ai_tasks > 0)
                            .group_by(week, ActivityDay.person_id), ["week", "person_id"])

    def sums() -> pd.DataFrame:
        totals = [func.sum(getattr(ActivityDay, c)) for c in SUM_COLUMNS]
        stmt = select(week, ActivityDay.task, *totals).where(*in_range).group_by(week, ActivityDay.task)
        frame = _bulk_frame(stmt, ["week", "task", *SUM_COLUMNS])
        frame[list(SUM_COLUMNS)] = frame[list(SUM_COLUMNS)].astype("float64")
        return frame

    weeks_key = tuple(weeks)
    baseline_activity = _baseline_activity(feature, live["spells"], version)
    return kpi.TrendInputs(
        weeks=list(weeks),
        active=kpi_cache.cached(version, ("trend_active", feature.id, weeks_key), active),
        sums=kpi_cache.cached(version, ("trend_sums", feature.id, weeks_key), sums),
        spells=live["spells"], baselines=kpi.baseline_minutes(live["explicit"], baseline_activity),
        estimated_minutes_saved=float(feature.estimated_minutes_saved or 0.0),
        baseline_error_rate=kpi.baseline_error_rate(live["explicit"], baseline_activity),
    ), live["people"]


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _cohort_members() -> tuple[list[str], pd.DataFrame]:
    """Every cohort key, and every cohort's recorded membership as ``HISTORY_COLUMNS`` (group:
    the cohort's key). A cohort with nothing recorded has had its members since the beginning."""
    recorded = membership.cohort_history()
    keys = recorded.attrs["keys"]
    members = recorded.rename(columns={"cohort": "group"})[HISTORY_COLUMNS]
    unrecorded = sorted(set(keys) - set(members["group"]))
    if unrecorded:
        now = _frame(select(Cohort.key, CohortMember.person_id).join(
            CohortMember, CohortMember.cohort_id == Cohort.id).where(Cohort.key.in_(unrecorded))
            .order_by(Cohort.key, CohortMember.person_id), ["group", "person_id"])
        # pandas sets a scalar NaT on every row; its stubs leave NaTType out of assign's values.
        now = now.assign(valid_from=pd.NaT, valid_to=pd.NaT)[HISTORY_COLUMNS]  # type: ignore[arg-type]
        members = pd.concat([members, now], ignore_index=True) if not members.empty else now
    return keys, members


def groups_of(group_by: str, people: pd.DataFrame,
              cohorts: tuple[list[str], pd.DataFrame] | None = None) -> dict[str, set[int]]:
    """The people of each department (by name) or cohort (by key) now."""
    if group_by == "department":
        return {str(name): set(part["person_id"].astype(int))
                for name, part in people.groupby("department")}
    keys, members = cohorts if cohorts is not None else _cohort_members()
    now = members[members["valid_to"].isna()]
    out: dict[str, set[int]] = {key: set() for key in keys}
    for cohort_key, person_id in now[["group", "person_id"]].itertuples(index=False):
        out[cohort_key].add(int(person_id))
    return out


def window_groups(group_by: str, people: pd.DataFrame, spells: pd.DataFrame, start: date, end: date,
                  cohorts: tuple[list[str], pd.DataFrame] | None = None) -> dict[str, set[int]]:
    """The people of each department (by name) or cohort (by key) for the days [start, end], as
    the membership stood: each person where they were at the last instant of the window they
    were exposed, else at the window's end (docs/kpis.md).

    :param people: ``people_frame()``; ``spells``: the feature's exposure spells.
    :param cohorts: ``_cohort_members()`` when already read.
    """
    instants = reference_instants(spells, start, end, people["person_id"])
    if group_by == "variant":
        raise ValueError("variant groups need the feature: variant_groups()")
    # Everyone's membership history, remembered per live revision for every feature and window: at
    # 100,000 people reading it took seconds of each first read of a breakdown.
    live = _live(kpi_cache.version())
    if group_by == "department":
        history = kpi_cache.cached(live, ("department_history",), lambda: department_history(people))
        return groups_at(history, instants, nobody=NO_DEPARTMENT)
    keys, members = cohorts if cohorts is not None else kpi_cache.cached(
        live, ("cohort_members",), _cohort_members)
    return groups_at(members, instants, names=keys)


def variant_groups(feature: Feature, spells: pd.DataFrame, start: date, end: date) -> dict[str, set[int]]:
    """The people exposed in [start, end] by variant: each in the variant they had at the end of
    their last exposure in the window, the instant a department breakdown uses too (docs/variants.md);
    every variant listed, empty ones too. Empty for a feature without variants."""
    split = variant_exposure.splits(feature)
    if split is None:
        return {}
    exposed = kpi.exposed_people(spells, start, end)
    out: dict[str, set[int]] = {name: set() for name in split.names}
    if not exposed:
        return out
    instants = reference_instants(spells, start, end, exposed)
    # The whole table (10^4 rows) reads faster than an IN list of as many ids.
    ids = dict(db.session.execute(select(Person.id, Person.person_id)).all())
    people = [int(p) for p in instants.index]
    names = variant_exposure.variants_before(split, [ids[p] for p in people], instants.to_numpy())
    for person, name in zip(people, names, strict=True):
        if name is not None:
            out[name].add(person)
    return out


def feature_kpis(key: str, start: date, end: date, group_by: str | None = None) -> dict:
    """The ``GET /api/v1/features/{key}/kpis`` answer, as of the last refresh-kpis run.

    Remembered under the key of its inputs (``answers.question``: on PostgreSQL a refresh of
    later days leaves it valid), and read from the store of precomputed answers when it holds it.

    :param key: the feature's key (404 when unknown).
    :param start: first day of the window (UTC); ``end``: its last day.
    :param group_by: ``department``, ``cohort`` or ``variant`` to add ``groups`` (small groups
        suppressed; a department or variant breakdown also complementarily, its groups splitting
        the people).
    """
    version = kpi_cache.version()
    feature = _feature(key)

    def compute() -> dict:
        parts = _live_window_parts(feature, version)
        inputs = _window_inputs(feature, start, end, parts, version)
        answer = kpi.kpi_record(inputs)
        if group_by == "variant":
            answer["groups"] = kpi.group_records(inputs, variant_groups(feature, parts["spells"], start, end),
                                                 splits_people=True)
        elif group_by:
            # Who is in which group depends on no rollup: it outlives a refresh. Only read (the
            # records intersect the sets, never change them), so not copied: a copy of 10^5 ids
            # cost ~0.3 s.
            groups = kpi_cache.cached(_live(version), ("window_groups", feature.id, group_by, start, end),
                                      lambda: window_groups(group_by, parts["people"], parts["spells"],
                                                            start, end), copies=False)
            answer["groups"] = kpi.group_records(inputs, groups,
                                                 splits_people=group_by in SPLITTING_GROUP_BYS)
        return answer

    asked = answers.question(feature.id, start, end, group_by, version)
    if asked is None:
        return compute()
    return kpi_cache.cached(asked.memo_version, ("kpis", asked.text),
                            lambda: answers.stored(asked) or compute())


def money_inputs(through_month: str) -> kpi.MoneyInputs:
    """The KPI module's money inputs for every feature, for the months up to ``through_month``,
    remembered whole under the KPI revision (each feature's baselines took ~70 ms to put together
    again at 100,000 people)."""
    version = kpi_cache.version()
    return kpi_cache.cached(version, ("money_inputs", through_month), lambda: _money_inputs(
        through_month, _live_money_parts(through_month), version))


def _live_money_parts(through_month: str) -> dict:
    """What the monthly ROI reads live: feature terms, rates, cost entries, explicit baselines and
    each feature's first exposure (its baseline window)."""
    features = _frame(select(Feature.id, Feature.key, Feature.estimated_minutes_saved,
                             Feature.per_event_cost_eur, Feature.baseline_days).order_by(Feature.id),
                      ["feature_id", "key", "estimated_minutes_saved", "per_event_cost_eur",
                       "baseline_days"])
    features = features.fillna({"estimated_minutes_saved": 0.0, "per_event_cost_eur": 0.0})
    rates = {int(i): float(r) for i, r in db.session.execute(
        select(Department.id, Department.hourly_rate_eur).where(Department.hourly_rate_eur.is_not(None))
        .order_by(Department.id)) if r is not None}  # none is None (the WHERE); the type cannot know
    costs = _frame(select(CostEntry.feature_id, CostEntry.month, CostEntry.amount_eur)
                   .where(CostEntry.month <= through_month, CostEntry.voided_at.is_(None))
                   .order_by(CostEntry.id),
                   ["feature_id", "month", "amount_eur"])
    # One probe of ix_exposure_spells_feature_start per feature (not a scan of every spell).
    earliest = (select(type_coerce(func.min(ExposureSpell.start_at), DateTime))
                .where(ExposureSpell.feature_id == Feature.id).scalar_subquery())
    first = _frame(select(Feature.id, earliest).order_by(Feature.id), ["feature_id", "first_start"])
    first = first[first["first_start"].notna()]
    return {"features": features, "rates": rates, "costs": costs, "explicit": _explicit_baselines(),
            "first": first, "default_rate": default_rate()}


def _money_inputs(through_month: str, live: dict, version: str | None) -> kpi.MoneyInputs:
    def month_sums() -> pd.DataFrame:
        sums = _bulk_frame(
            select(FeatureMonth.feature_id, FeatureMonth.month, FeatureMonth.department_id,
                   FeatureMonth.task, *[getattr(FeatureMonth, c) for c in SUM_COLUMNS])
            .where(FeatureMonth.month <= through_month),
            ["feature_id", "month", "department_id", "task", *SUM_COLUMNS])
        sums[list(SUM_COLUMNS)] = sums[list(SUM_COLUMNS)].astype("float64")
        return sums

    sums = kpi_cache.cached(version, ("month_sums", through_month), month_sums)
    variant_tasks = kpi_cache.cached(version, ("variant_tasks", through_month),
                                     lambda: variant_costs.priced_variant_tasks(through_month))
    return kpi.MoneyInputs(sums=sums, features=live["features"],
                           baselines=_feature_baselines(live, version),
                           rates=live["rates"], default_rate=live["default_rate"], costs=live["costs"],
                           variant_tasks=variant_tasks)


def _feature_baselines(live: dict, version: str | None) -> dict[int, dict[str, float]]:
    """baseline_minutes per feature and task, each over its own baseline window."""
    first = {int(f): start for f, start in live["first"].itertuples(index=False)}
    features = live["features"]
    windows: dict[int, tuple[date, date]] = {}
    for row in features.itertuples():
        if row.feature_id in first:
            spells = pd.DataFrame({"start_at": [first[row.feature_id]]})
            window = kpi.baseline_window(spells, int(row.baseline_days or 28))
            assert window is not None, "a spell gives a window"
            windows[int(row.feature_id)] = window
    window_sums = pd.DataFrame(columns=["feature_id", "task", "manual_dur_n", "manual_dur_min"])
    if windows:
        clauses = [(FeatureDay.feature_id == f) & FeatureDay.day.between(lo, hi)
                   for f, (lo, hi) in windows.items()]
        stmt = (select(FeatureDay.feature_id, FeatureDay.task, func.sum(FeatureDay.manual_dur_n),
                       func.sum(FeatureDay.manual_dur_min))
                .where(or_(*clauses)).group_by(FeatureDay.feature_id, FeatureDay.task))
        window_sums = kpi_cache.cached(
            version, ("baseline_sums", tuple(sorted(windows.items()))),
            lambda: _bulk_frame(stmt, ["feature_id", "task", "manual_dur_n", "manual_dur_min"]))
    explicit = live["explicit"]
    out = {}
    for feature_id in features["feature_id"].astype(int):
        out[feature_id] = kpi.baseline_minutes(
            explicit[explicit["feature_id"] == feature_id],
            window_sums[window_sums["feature_id"] == feature_id])
    return out


def roi_figures(month: str) -> tuple[dict, str]:
    """The live ROI answer for ``month`` and the fingerprint of the inputs it came from,
    remembered per KPI revision."""
    version = kpi_cache.version()

    def compute() -> tuple[dict, str]:
        inputs = money_inputs(month)
        return kpi.monthly_roi(inputs, month), fingerprint(inputs)

    return kpi_cache.cached(version, ("roi", month), compute)


def monthly_roi(month: str) -> dict:
    """The ``GET /api/v1/roi/monthly`` answer: live figures, plus the frozen ones of a closed
    month (``closed``, ``restated`` when its inputs changed since the close, ``closed_figures``).

    :param month: ``YYYY-MM``.
    """
    figures, current = roi_figures(month)
    figures.update(close_status(month, current))
    return figures

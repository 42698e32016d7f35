"""A breakdown whose groups split the people is summed in one pass (app/kpi/groups.py): each
group's record must be, bit for bit, the record ``kpi_record`` makes for that group alone."""

from __future__ import annotations

import random
from datetime import date

import pytest

from app import kpi
from app.kpi.groups import _split_sums, _suppress
from app.services.kpi_reads import figures as kpis
from tests.test_kpi_trend import company  # noqa: F401  (the random company, a fixture)

WINDOWS = [(date(2026, 9, 1), date(2026, 9, 30)),  # exposures start in the window
           (date(2026, 8, 1), date(2026, 10, 31)),  # a quarter
           (date(2026, 10, 25), date(2026, 10, 31)),  # the last week with events
           (date(2026, 7, 1), date(2026, 7, 31)),  # before anyone was exposed
           (date(2026, 12, 1), date(2026, 12, 31))]  # no events at all


def _one_by_one(inputs, groups: dict[str, set[int]]) -> list[dict]:
    records = []
    for name in sorted(groups):
        record = kpi.kpi_record(inputs, groups[name])
        record["group"] = name
        records.append(record)
    return _suppress(records, splits_people=True)


@pytest.mark.parametrize("window", WINDOWS, ids=[f"{a}..{b}" for a, b in WINDOWS])
def test_department_records_in_one_pass_are_those_of_each_group(company, window):  # noqa: F811
    inputs, people = kpis.kpi_inputs("assist", *window)
    groups = {**kpis.groups_of("department", people), "nobody": set()}
    assert _split_sums(inputs, groups, sorted(groups)) is not None  # the one-pass path is taken
    assert kpi.group_records(inputs, groups, splits_people=True) == _one_by_one(inputs, groups)


def test_random_splits_of_the_people_including_people_in_no_group(company):  # noqa: F811
    rng = random.Random(5)
    inputs, people = kpis.kpi_inputs("assist", date(2026, 8, 15), date(2026, 10, 15))
    ids = [int(p) for p in people["person_id"]]
    checked = 0
    for _ in range(12):
        size = rng.randrange(1, 7)
        groups: dict[str, set[int]] = {f"g{i}": set() for i in range(size)}
        for person in ids:
            choice = rng.randrange(size + 1)
            if choice < size:  # else in no group
                groups[f"g{choice}"].add(person)
        records = kpi.group_records(inputs, groups, splits_people=True)
        assert records == _one_by_one(inputs, groups)
        checked += sum(r["ai_tasks"] or 0 for r in records)
    assert checked > 100  # the groups really held activity


def test_overlapping_groups_are_recorded_one_by_one(company):  # noqa: F811
    inputs, people = kpis.kpi_inputs("assist", date(2026, 9, 1), date(2026, 10, 31))
    ids = [int(p) for p in people["person_id"]]
    groups = {"first": set(ids[:30]), "second": set(ids[20:])}  # ten people in both
    assert _split_sums(inputs, groups, sorted(groups)) is None
    assert kpi.group_records(inputs, groups, splits_people=True) == _one_by_one(inputs, groups)

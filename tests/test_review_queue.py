"""Review samples and labels: stratified sampling, the label rules, a second reviewer on a share,
Cohen's kappa and the reviewed error rate (expected values worked out by hand)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.errors import Conflict, ValidationFailed
from app.kpi.review import cohens_kappa, reviewed_error_rate
from app.models import Event, ReviewItem, ReviewLabel
from app.services.review import labels, sampling
from tests.review_support import live_world


def test_kappa_matches_the_worked_example():
    # 50 items: both "yes" 20, A yes/B no 5, A no/B yes 10, both "no" 15. p_o = 35/50 = 0.7;
    # A says yes 25/50, B 30/50: p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4.
    pairs = [("wrong", "wrong")] * 20 + [("wrong", "correct")] * 5 + [("correct", "wrong")] * 10 + \
            [("correct", "correct")] * 15
    result = cohens_kappa(pairs)
    assert result["items"] == 50 and result["observed_agreement"] == pytest.approx(0.7)
    assert result["kappa"] == pytest.approx(0.4)
    assert cohens_kappa([])["kappa"] is None
    assert cohens_kappa([("correct", "correct")] * 3)["kappa"] is None  # chance agreement 1: undefined
    assert cohens_kappa([("correct", "wrong"), ("wrong", "correct")])["kappa"] == pytest.approx(-1.0)


def test_the_reviewed_error_rate_leaves_out_what_could_not_be_assessed():
    labels_ = ["correct"] * 7 + ["corrected"] * 2 + ["wrong"] + ["not_assessable"] * 2
    result = reviewed_error_rate(labels_)
    assert (result["reviewed_items"], result["assessed"], result["errors"]) == (12, 10, 3)
    assert result["reviewed_error_rate"] == pytest.approx(0.3)
    # Wilson 95 % interval of 3 / 10 (z = 1.96), from the textbook formula: [0.1078, 0.6032].
    assert result["reviewed_error_rate_ci_low"] == pytest.approx(0.1078, abs=1e-4)
    assert result["reviewed_error_rate_ci_high"] == pytest.approx(0.6032, abs=1e-4)
    assert reviewed_error_rate(["not_assessable"])["reviewed_error_rate"] is None


def test_allocation_is_proportional_by_largest_remainder():
    assert sampling.allocate({"A": 60, "B": 30, "C": 10}, 10) == {"A": 6, "B": 3, "C": 1}
    # 10 * 5/15 = 3.33 each: one extra item, to the first by name on a tie.
    assert sampling.allocate({"B": 5, "A": 5, "C": 5}, 10) == {"A": 4, "B": 3, "C": 3}
    assert sampling.allocate({"A": 2, None: 1}, 10) == {"A": 2, None: 1}  # fewer than asked: all


def test_a_sample_is_stratified_by_department_repeatable_and_never_repeats_items(client, admin_headers):
    live_world(client, admin_headers)  # Sales 6 x 5 = 30 outputs, Ops 4 x 5 = 20
    sample = sampling.draw_sample("f", "cm@example.com", size=10, second_share=0.3, seed=7)
    items = db.session.scalars(select(ReviewItem).where(ReviewItem.sample_id == sample.id)).all()
    by_department = {d: sum(i.department == d for i in items) for d in ("Sales", "Ops")}
    assert by_department == {"Sales": 6, "Ops": 4}
    assert sum(i.needs_second for i in items) == 3
    outputs = db.session.scalars(select(Event.output).where(Event.id.in_([i.event_id for i in items])))
    assert None not in list(outputs)  # only events with an output are reviewable
    first = sorted(i.event_id for i in items)
    db.session.rollback()
    again = sampling.draw_sample("f", "cm@example.com", size=10, second_share=0.3, seed=7)
    assert sorted(i.event_id for i in db.session.scalars(
        select(ReviewItem).where(ReviewItem.sample_id == again.id))) == first
    later = sampling.draw_sample("f", "cm@example.com", size=40, seed=8)
    later_events = {i.event_id for i in db.session.scalars(
        select(ReviewItem).where(ReviewItem.sample_id == later.id))}
    assert len(later_events) == 40 and not later_events & set(first)  # 50 outputs - 10 sampled
    with pytest.raises(Conflict):
        sampling.draw_sample("f", "cm@example.com", size=5)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"stage": 3}, "stage"), ({"size": 0}, "size"), ({"second_share": 1.5}, "second_share"),
    ({"seed": -1}, "seed"), ({"variant": ""}, "variant")])
def test_bad_sample_parameters_name_the_field(client, admin_headers, kwargs, field):
    live_world(client, admin_headers)
    with pytest.raises(ValidationFailed) as error:
        sampling.draw_sample("f", "cm", **kwargs)
    assert [d.field for d in error.value.details] == [field]


def test_a_variant_filter_that_no_event_carries_draws_nothing(client, admin_headers):
    live_world(client, admin_headers)  # its events name no variant, and "f" has none
    with pytest.raises(Conflict, match="variant B"):
        sampling.draw_sample("f", "cm", variant="B")


def test_labels_follow_the_rules_and_a_second_reviewer_measures_agreement(client, admin_headers):
    live_world(client, admin_headers)
    sample = sampling.draw_sample("f", "cm", size=4, second_share=0.5, seed=3)
    items = labels.queue(sample.id, "ana")
    assert len(items) == 4
    bad = [({"label": "great"}, "label"), ({"label": "corrected", "category": "tone"}, "fix"),
           ({"label": "wrong"}, "category"), ({"label": "correct", "fix": "x"}, "fix"),
           ({"label": "corrected", "category": "c" * 41, "fix": "x"}, "category")]
    for body, field in bad:
        with pytest.raises(ValidationFailed) as error:
            labels.label_item(items[0].id, "ana", **body)
        assert field in [d.field for d in error.value.details], body
    verdicts = [("correct", None, None), ("corrected", "tone", "Dear Ms Doe,"), ("wrong", "facts", None),
                ("correct", None, None)]
    for item, (label, category, fix) in zip(items, verdicts, strict=True):
        labels.label_item(item.id, "ana", label, category, fix)
    # Ana's own queue is empty; Ben sees the two items marked for a second review.
    assert labels.queue(sample.id, "ana") == []
    seconds = labels.queue(sample.id, "ben")
    assert len(seconds) == 2 and all(i.needs_second for i in seconds)
    single = next(i for i in items if not i.needs_second)
    with pytest.raises(Conflict):
        labels.label_item(single.id, "ben", "correct")
    ana = {i.id: v[0] for i, v in zip(items, verdicts, strict=True)}
    # Ben agrees on the first, disagrees on the second.
    labels.label_item(seconds[0].id, "ben", ana[seconds[0].id],
                      *(("x", "fix") if ana[seconds[0].id] == "corrected" else
                        ("x", None) if ana[seconds[0].id] == "wrong" else (None, None)))
    other = "correct" if ana[seconds[1].id] != "correct" else "wrong"
    labels.label_item(seconds[1].id, "ben", other, "facts" if other == "wrong" else None)
    with pytest.raises(Conflict):
        labels.label_item(seconds[0].id, "cy", "correct")  # two reviewers at most
    summary = labels.sample_summary(sample.id)
    assert summary["labelled"] == 4 and summary["second_reviews_done"] == 2
    assert summary["reviewed_error_rate"] == pytest.approx(0.5)  # corrected + wrong of 4
    assert summary["agreement"]["observed_agreement"] == pytest.approx(0.5)
    expected = cohens_kappa([(ana[seconds[0].id], ana[seconds[0].id]), (ana[seconds[1].id], other)])
    assert summary["agreement"]["kappa"] == expected["kappa"]
    # Ana changes her mind: her label is updated, not doubled.
    labels.label_item(items[0].id, "ana", "wrong", "facts")
    mine = select(ReviewLabel.label).where(ReviewLabel.item_id == items[0].id, ReviewLabel.reviewer == "ana")
    assert db.session.scalars(mine).all() == ["wrong"]


def test_the_review_api_draws_labels_and_reports(client, admin_headers, ingest_headers):
    live_world(client, admin_headers)
    refused = client.post("/api/v1/features/f/review-samples", json={}, headers=ingest_headers)
    assert refused.status_code == 403
    drawn = client.post("/api/v1/features/f/review-samples", json={"size": 4, "second_share": 0, "seed": 2},
                        headers=admin_headers)
    assert drawn.status_code == 201, drawn.get_json()
    sample = drawn.get_json()
    assert (sample["items"], sample["labelled"], sample["reviewed_error_rate"]) == (4, 0, None)
    shown = client.get(f"/api/v1/review-samples/{sample['id']}", headers=admin_headers).get_json()
    waiting = shown["waiting"]
    assert len(waiting) == 4 and all(w["output"].startswith("answer") for w in waiting)
    bad = client.post(f"/api/v1/review-items/{waiting[0]['id']}/label", json={"label": "great"},
                      headers=admin_headers)
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "label"
    no_fix = client.post(f"/api/v1/review-items/{waiting[0]['id']}/label",
                         json={"label": "corrected", "category": "tone"}, headers=admin_headers)
    assert no_fix.status_code == 422 and no_fix.get_json()["details"][0]["field"] == "fix"
    for n, item in enumerate(waiting):
        body = {"label": "wrong", "category": "facts"} if n == 0 else {"label": "correct"}
        labelled = client.post(f"/api/v1/review-items/{item['id']}/label", json=body, headers=admin_headers)
        assert labelled.status_code == 200
        assert labelled.get_json()["labels"][0]["reviewer"] == "token:test admin"
    quality = client.get("/api/v1/features/f/reviewed-quality?stage=1", headers=admin_headers).get_json()
    assert (quality["reviewed_items"], quality["errors"]) == (4, 1)
    assert quality["reviewed_error_rate"] == pytest.approx(0.25)
    for junk in ("x", "%C2%B2", "1234567890"):  # a superscript two is a digit to Python, not a number
        assert client.get(f"/api/v1/features/f/reviewed-quality?stage={junk}",
                          headers=admin_headers).status_code == 422
    assert client.post("/api/v1/review-items/999999/label", json={"label": "correct"},
                       headers=admin_headers).status_code == 404


def test_stage_periods_leave_out_killed_and_archived_time():
    from types import SimpleNamespace

    from app.services.review.stages import stage_at, stage_periods
    from tests.helpers import utc

    def t(i, day, action, to, killed=False):
        return SimpleNamespace(id=i, effective_at=utc(2026, 10, day), action=action, to_stage=to,
                               killed_after=killed)

    history = [t(1, 1, "advance", 1), t(2, 5, "advance", 2), t(3, 8, "kill", 2, True), t(4, 9, "resume", 2),
               t(5, 12, "archive", 2), t(6, 14, "unarchive", 2)]
    assert stage_periods(history) == [(1, utc(2026, 10, 1), utc(2026, 10, 5)),
                                      (2, utc(2026, 10, 5), utc(2026, 10, 8)),
                                      (2, utc(2026, 10, 9), utc(2026, 10, 12)),
                                      (2, utc(2026, 10, 14), None)]
    periods = stage_periods(history)
    assert [stage_at(periods, utc(2026, 10, d)) for d in (1, 6, 8, 13, 20)] == [1, 2, 0, 0, 2]


def test_kappa_agrees_with_statsmodels_on_random_labellings():
    import random

    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    import numpy as np

    rng = random.Random(19)
    codes = {label: i for i, label in enumerate(("correct", "corrected", "wrong", "not_assessable"))}
    for _ in range(50):
        n = rng.randint(2, 60)
        first = [rng.choice(list(codes)) for _ in range(n)]
        # The second reviewer mostly agrees: kappa anywhere from chance to near 1.
        second = [a if rng.random() < rng.random() else rng.choice(list(codes)) for a in first]
        ours = cohens_kappa(zip(first, second, strict=True))["kappa"]
        table, _ = inter_rater.to_table(np.array([[codes[a], codes[b]] for a, b in zip(first, second,
                                                                                          strict=True)]))
        if ours is None:
            continue  # one label throughout: statsmodels divides by zero there
        assert ours == pytest.approx(inter_rater.cohens_kappa(table).kappa, abs=1e-12)

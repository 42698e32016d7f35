"""Cohort targeting that does not grow with the cohort (issue #20): an SDK sending
``Liftoff-Cohorts: context`` gets cohort segments on the ``liftoffCohorts`` context field instead of
every member's ``userId``; with that field filled in, the real SDK answers exactly as the default
payload does, for members, non-members and the percentage ramp alike."""

from __future__ import annotations

import json

import pytest

from app.db import db
from app.flags.compile import COHORT_CONTEXT, compile_payload
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person
from tests.sdk_support import sdk, wait_for

FEATURE = "meeting-notes"
COMPACT = {"Liftoff-Cohorts": "context"}


@pytest.fixture
def company(app):
    people = [gen_person(f"emp{i:05d}") for i in range(400)]
    cohorts = {"champions": people[:5], "pilots-sales": people[5:205], "pilots-legal": people[200:230],
               "pilots-sales-eu": people[300:310]}  # overlapping pilots; a key that extends another
    for key, members in cohorts.items():
        gen_cohort(key, members)
    rollout.create_feature({"key": FEATURE, "name": "Meeting notes", "stages": [
        {"name": "champions", "cohorts": ["champions"]},
        {"name": "pilots", "cohorts": ["pilots-sales", "pilots-legal"]},
        {"name": "ramp", "percentage": 10},
    ]}, "ana")
    for _ in range(3):  # to the ramp
        rollout.advance(FEATURE, "ana")
    db.session.commit()
    return people, {key: {p.person_id for p in members} for key, members in cohorts.items()}


def _context(person_id: str, cohorts: dict[str, set[str]]) -> dict:
    """What an application sends: the userId, and the person's cohort keys comma-delimited."""
    mine = sorted(key for key, members in cohorts.items() if person_id in members)
    return {"userId": person_id, "properties": {COHORT_CONTEXT: f",{','.join(mine)}," if mine else ""}}


def test_the_compact_payload_names_cohorts_not_members(app, company):
    people, cohorts = company
    default, compact = compile_payload("production"), compile_payload("production", cohorts_by_context=True)
    assert default["features"] == compact["features"]  # strategies and their segment ids alike
    by_name = {s["name"]: s for s in compact["segments"]}
    assert set(by_name) == {"champions", "pilots-sales", "pilots-legal"}  # only cohorts in stages
    assert by_name["pilots-sales"]["constraints"] == [{
        "contextName": "liftoffCohorts", "operator": "STR_CONTAINS", "values": [",pilots-sales,"],
        "inverted": False, "caseInsensitive": False}]
    default_body, compact_body = json.dumps(default), json.dumps(compact)
    assert all(p.person_id in default_body for p in people[:230])
    assert not any(p.person_id in compact_body for p in people)
    assert len(compact_body) < len(default_body) - 230 * len('"emp00000",')


def test_the_header_picks_the_form_and_each_has_its_etag(app, client_token):
    gen_cohort("pilots", [gen_person(f"x{i}") for i in range(50)])
    stages = [{"name": "p", "cohorts": ["pilots"]}]
    rollout.create_feature({"key": FEATURE, "name": "Notes", "stages": stages}, "ana")
    rollout.advance(FEATURE, "ana")
    db.session.commit()
    web = app.test_client()
    auth = {"Authorization": client_token}
    for _ in range(2):  # the first poll fills the caches through Flask, the second takes the fast path
        default = web.get("/api/client/features", headers=auth)
        compact = web.get("/api/client/features", headers={**auth, **COMPACT})
        assert default.status_code == compact.status_code == 200
        assert "x0" in default.get_data(as_text=True) and "x0" not in compact.get_data(as_text=True)
        assert default.headers["ETag"] != compact.headers["ETag"]
        assert default.headers["Vary"] == compact.headers["Vary"] == "Authorization, Liftoff-Cohorts"
        again = web.get("/api/client/features", headers={**auth, **COMPACT,
                                                         "If-None-Match": compact.headers["ETag"]})
        assert again.status_code == 304
        crossed = web.get("/api/client/features", headers={**auth, "If-None-Match": compact.headers["ETag"]})
        assert crossed.status_code == 200
        wrong = web.get("/api/client/features", headers={**auth, "Liftoff-Cohorts": "ids, please"})
        assert wrong.status_code == 422
        assert wrong.get_json()["details"] == [{"field": "Liftoff-Cohorts", "message": "unknown value"}]


@pytest.mark.slow
def test_the_sdk_answers_alike_with_either_form(app, live_server, company, client_token, tmp_path):
    people, cohorts = company
    ids = [p.person_id for p in people] + [f"visitor-{i}" for i in range(600)]
    live_cohorts = cohorts["champions"] | cohorts["pilots-sales"] | cohorts["pilots-legal"]
    with (sdk(live_server, client_token, tmp_path) as by_ids,
          sdk(live_server, client_token, tmp_path,
              custom_headers={"Authorization": client_token, **COMPACT}) as by_context):
        def answers(client, with_cohorts: bool) -> set[str]:
            return {i for i in ids if client.is_enabled(
                FEATURE, _context(i, cohorts) if with_cohorts else {"userId": i})}

        assert wait_for(lambda: live_cohorts <= answers(by_ids, False))
        assert wait_for(lambda: live_cohorts <= answers(by_context, True))
        expected = answers(by_ids, False)
        # Members of live cohorts, plus about 10 % of everyone (the ramp), identical.
        assert answers(by_context, True) == expected
        # Without the context field the compact SDK sees only the ramp: the field is what it needs.
        ramp = answers(by_context, False)
        assert expected == live_cohorts | ramp
        assert 60 <= len(ramp) <= 140, len(ramp)  # 10 % of 1,000 ids
        outside = cohorts["pilots-sales-eu"] - ramp
        assert outside and not outside & expected  # a cohort in no stage stays out

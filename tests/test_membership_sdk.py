"""The real UnleashClient SDK answers the current audience after cohort changes, back-dated or not."""

from __future__ import annotations

import pytest

from app.db import db
from app.services.people import directory as people_service
from app.services.rollout import transitions as rollout
from tests.helpers import gen_person, utc
from tests.sdk_support import sdk, wait_for

FEATURE = "meeting-notes"


def _enabled(client, ids) -> set[str]:
    return {i for i in ids if client.is_enabled(FEATURE, {"userId": i})}


@pytest.mark.slow  # polls a live server, like the other SDK tests
def test_flag_answers_follow_the_current_members(app, live_server, client_token, tmp_path):
    ids = [gen_person(f"emp{i:03d}").person_id for i in range(12)]
    people_service.put_cohort("pilot", {"members": ids[:4], "effective_at": "2026-01-01T00:00:00Z"})
    rollout.create_feature({"key": FEATURE, "name": "Meeting notes",
                            "stages": [{"name": "pilot", "cohorts": ["pilot"]}]}, "ana")
    rollout.advance(FEATURE, "ana", effective_at=utc(2026, 1, 15))
    db.session.commit()
    with sdk(live_server, client_token, tmp_path) as client:
        assert wait_for(lambda: _enabled(client, ids) == set(ids[:4]))
        # Replaced now: the SDK answers the new members.
        people_service.put_cohort("pilot", {"members": ids[2:7]})
        db.session.commit()
        assert wait_for(lambda: _enabled(client, ids) == set(ids[2:7]))
        # Replaced back-dated to February: the past changes, and what holds now is what the SDK says.
        people_service.put_cohort("pilot", {"members": ids[8:], "effective_at": "2026-02-01T00:00:00Z"})
        db.session.commit()
        assert wait_for(lambda: _enabled(client, ids) == set(ids[8:]))
        assert not client.is_enabled(FEATURE, {"userId": ids[0]})

"""Variants mirrored to a real unleash-server: after the sync, and again after a weight change, the
real UnleashClient pointed at Unleash answers every person the same variant as pointed at Liftoff."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.db import db
from app.models import FlagSync, Person
from app.services.rollout import transitions as rollout
from app.services.rollout import variants
from tests.test_unleash_rollout import _wait_until_unleash_serves
from tests.unleash_server import configure_unleash, unleash_server  # noqa: F401

pytestmark = [pytest.mark.unleash_server, pytest.mark.slow]

KEY = "ai-replies"
SPLIT = [{"name": "large", "weight": 70, "payload": {"model": "large"}}, {"name": "small", "weight": 30}]


def _variants(api_url: str, token: str, people: list[str], cache_dir) -> dict[str, str]:
    from UnleashClient import UnleashClient

    client = UnleashClient(url=api_url, app_name=f"liftoff-test-{uuid.uuid4().hex[:6]}",
                           custom_headers={"Authorization": token}, cache_directory=str(cache_dir),
                           disable_metrics=True, disable_registration=True, refresh_interval=3600)
    client.initialize_client()
    try:
        return {pid: client.get_variant(KEY, {"userId": pid})["name"] for pid in people}
    finally:
        client.destroy()


def test_variants_match_between_unleash_and_the_embedded_api(app, session, live_server, client_token,
                                                             unleash_server, tmp_path):  # noqa: F811
    configure_unleash(app, unleash_server)
    people = [Person(person_id=f"emp{i:04d}") for i in range(600)]
    session.add_all(people)
    session.commit()
    rollout.create_feature({"key": KEY, "name": "AI replies", "variants": SPLIT,
                            "stages": [{"name": "half", "percentage": 50}]}, "lead@example.com")
    rollout.advance(KEY, "lead@example.com")
    session.commit()
    ids = [p.person_id for p in people]
    for n, weights in enumerate(((70, 30), (20, 80))):
        if n:
            variants.define(KEY, {"variants": [{**SPLIT[0], "weight": weights[0]},
                                               {**SPLIT[1], "weight": weights[1]}]}, "lead@example.com")
            session.commit()
        statuses = [s.status for s in db.session.scalars(select(FlagSync).order_by(FlagSync.id))]
        assert set(statuses) == {"applied"}, statuses
        _wait_until_unleash_serves(unleash_server, KEY)
        via_unleash = _variants(f"{unleash_server.url}/api", unleash_server.backend_tokens["production"], ids,
                                tmp_path / f"unleash-{n}")
        via_liftoff = _variants(f"{live_server.url}/api", client_token, ids, tmp_path / f"liftoff-{n}")
        assert via_unleash == via_liftoff
        assert set(via_liftoff.values()) == {"large", "small", "disabled"}

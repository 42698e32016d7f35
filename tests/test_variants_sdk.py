"""The real Unleash SDK (``UnleashClient``, Unleash's own engine) against the live app: for every
person, its ``get_variant`` must be the variant Liftoff's exposure history says they had, through
a ramp that grows and a change of weights."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from app.db import db, utcnow
from app.models import Feature
from app.services.kpi_reads import variant_exposure
from app.services.rollout import transitions as rollout
from app.services.rollout import variants
from tests.helpers import gen_cohort, gen_person
from tests.sdk_support import sdk, wait_for

SPLIT = [{"name": "gpt", "weight": 50, "payload": {"vendor": "openai", "model": "gpt-x"}},
         {"name": "claude", "weight": 30, "payload": {"vendor": "anthropic"}},
         {"name": "mistral", "weight": 20}]


@pytest.fixture
def company(app):
    people = [gen_person(f"emp{i:04d}") for i in range(150)]
    gen_cohort("champions", people[:12])
    rollout.create_feature({"key": "drafts", "name": "Drafts", "variants": SPLIT, "stages": [
        {"name": "champions", "cohorts": ["champions"]}, {"name": "ramp", "percentage": 30},
        {"name": "most", "percentage": 70}]}, "ana")
    rollout.advance("drafts", "ana")
    rollout.advance("drafts", "ana")
    db.session.commit()
    return [p.person_id for p in people]


def _answers(client, users: list[str]) -> dict[str, str]:
    return {u: client.get_variant("drafts", {"userId": u})["name"] for u in users}


def _liftoff(users: list[str], at) -> dict[str, str]:
    feature = db.session.query(Feature).filter_by(key="drafts").one()
    return {u: variant_exposure.variant_at(feature, u, at) or "disabled" for u in users}


def _settle() -> None:
    time.sleep(0.01)  # the next change must take effect strictly after the previous instant


def test_the_sdk_variant_is_the_exposure_historys_through_a_ramp_and_a_weight_change(
        app, live_server, company, client_token, tmp_path):
    with sdk(live_server, client_token, tmp_path, disable_metrics=True) as client:
        first = _answers(client, company)
        seen_at = utcnow()
        assert first == _liftoff(company, seen_at)
        served = {u: v for u, v in first.items() if v != "disabled"}
        # The scenario is what it claims: every variant served, the ramp splits people.
        assert set(served.values()) == {"gpt", "claude", "mistral"}
        assert 30 < len(served) < 90
        payload = client.get_variant("drafts", {"userId": next(u for u, v in served.items() if v == "gpt")})
        assert json.loads(payload["payload"]["value"]) == {"vendor": "openai", "model": "gpt-x"}

        # The ramp grows: everyone already in keeps their variant.
        _settle()
        rollout.advance("drafts", "ana")
        db.session.commit()
        assert wait_for(lambda: sum(v != "disabled" for v in _answers(client, company).values())
                        > len(served))
        grown = _answers(client, company)
        assert all(grown[u] == v for u, v in served.items())
        assert grown == _liftoff(company, utcnow())

        # A weight change moves some people; the SDK and the history agree before and after it.
        _settle()
        variants.define("drafts", {"variants": [{**SPLIT[0], "weight": 10}, {**SPLIT[1], "weight": 30},
                                                {**SPLIT[2], "weight": 60}]}, "ana")
        db.session.commit()
        assert wait_for(lambda: _answers(client, company) != grown)
        after = _answers(client, company)
        assert after == _liftoff(company, utcnow())
        assert sum(v == "mistral" for v in after.values()) > sum(v == "mistral" for v in grown.values())
        # The history still answers the earlier instants as the SDK did then.
        assert _liftoff(company, seen_at) == first
        assert _liftoff(company, seen_at - timedelta(days=1)) == dict.fromkeys(company, "disabled")

        # Promotion: every exposed person gets the winner, nobody else is switched on.
        _settle()
        variants.promote("drafts", "claude", "ana", "cheaper at the same error rate")
        db.session.commit()
        assert wait_for(lambda: set(_answers(client, company).values()) == {"claude", "disabled"})
        promoted = _answers(client, company)
        assert promoted == _liftoff(company, utcnow())
        exposed = {u for u, v in after.items() if v != "disabled"}
        assert {u for u, v in promoted.items() if v == "claude"} == exposed

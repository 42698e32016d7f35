"""The OpenAPI document is generated from the routes: complete, public, and refusing to go stale."""

from __future__ import annotations

import re

import pytest

from app.api import bp
from app.api.openapi import OPERATIONS, build_document
from app.security import requires


def _api_routes(app) -> set[tuple[str, str]]:
    return {
        (rule.rule.removeprefix("/api/v1"), method.lower())
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def _strip(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(re.sub(r"<\w+:", "<", path), method) for path, method in pairs}


def test_the_document_is_public_and_covers_every_api_route(app, client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (path.replace("{", "<").replace("}", ">"), method)
        for path, methods in document["paths"].items() for method in methods
    }
    served = {(p, m) for p, m in _api_routes(app)}
    # Compare with converters stripped: <int:item_id> is documented as {item_id}.
    assert _strip(documented) == _strip(served)
    assert len(documented) >= 40
    # Every view of the blueprint has a declared schema and a permission.
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")}
    assert endpoints <= set(OPERATIONS)
    assert set(OPERATIONS) <= endpoints, "stale entries in OPERATIONS"


def test_the_contract_endpoints_carry_their_bodies_and_answers(client):
    document = client.get("/api/openapi.json").get_json()
    paths = document["paths"]
    people = paths["/people"]["post"]
    assert people["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert people["x-permission"] == "people:write"
    events = paths["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert events["maxItems"] == 10_000
    event = document["components"]["schemas"]["Event"]
    assert set(event["required"]) >= {"event_id", "feature", "person_id", "occurred_at", "outcome"}
    kpis = document["components"]["schemas"]["Kpis"]
    assert {"adoption_rate", "value_eur", "error_rate_ci_high"} <= set(kpis["required"])
    assert "201" in paths["/features"]["post"]["responses"]
    assert "4XX" in paths["/features/{key}/advance"]["post"]["responses"]
    roi = paths["/roi/monthly"]["get"]
    assert [p["name"] for p in roi["parameters"]] == ["month"]
    assert paths["/people/{person_id}/erase"]["post"]["x-permission"] == "privacy:admin"


def test_a_route_without_a_declared_schema_breaks_the_document(app):
    @requires("read")
    def undocumented():
        """A view someone forgot to document."""
        return {}

    app.add_url_rule("/api/v1/forgotten", "api.forgotten", undocumented)
    with pytest.raises(LookupError, match="forgotten"):
        build_document(app)
    assert bp.name == "api"

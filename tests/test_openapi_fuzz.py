"""Schemathesis against /api/openapi.json, in process against the WSGI app with an admin token:
every generated request answers without a 5xx, in the documented content type, with a body that
matches the documented schema. At least 1,000 generated cases over every operation; then every
operation again without credentials and with an ingest token (what is parsed before the
permission check), and the Unleash client API's register and metrics with generated bodies."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from app.db import db
from tests.helpers import gen_cohort, gen_department, gen_feature, gen_person

pytestmark = pytest.mark.slow

CASES_PER_OPERATION = 25
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


def _company() -> None:
    # A little real data, so some generated requests reach past the 404s.
    sales = gen_department("Sales", 60.0)
    people = [gen_person(f"p{i}", department=sales) for i in range(5)]
    gen_cohort("pilot", people[:2])
    gen_feature("demo")
    db.session.commit()


def _fuzz(operation, headers: dict, counted: dict[str, int], failures: list[str],
          cases: int = CASES_PER_OPERATION, checks: list = CHECKS) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=cases, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        counted[label] = counted.get(label, 0) + 1
        try:
            case.call_and_validate(headers=headers, checks=checks)
        except Exception as failure:  # collect every operation's failures, then report together
            db.session.rollback()
            failures.append(f"{label}: {str(failure)[:800]}")
            if len(failures) > 60:
                raise

    run()


def test_generated_requests_never_get_a_server_error_and_match_the_schema(app, admin_headers):
    _company()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    served = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(operations) == len(served) >= 40  # every API operation, none skipped
    counted: dict[str, int] = {}
    failures: list[str] = []
    for operation in operations:
        _fuzz(operation, admin_headers, counted, failures)

    total = sum(counted.values())
    print(f"schemathesis: {total} generated cases over {len(counted)} operations")
    assert failures == []
    assert total >= 1000


def test_strangers_and_ingest_tokens_never_get_a_server_error(app, ingest_headers):
    _company()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    counted: dict[str, int] = {}
    failures: list[str] = []
    for headers in ({}, ingest_headers):
        for operation in operations:
            _fuzz(operation, headers, counted, failures, cases=4, checks=[not_a_server_error])
    assert failures == []
    assert len(counted) == len(operations)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_MOMENT = st.sampled_from(["2026-11-01T10:15:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                           "2099-01-01T00:00:00Z", "soon", ""]) | _JSON
_COUNT = st.sampled_from([0, 1, 2**31 - 1, 2**31, 10**20, 1e20, -1]) | _JSON
_REPORT = st.fixed_dictionaries({
    "appName": st.sampled_from(["crm", ""]) | _JSON, "instanceId": st.just("i-1") | _JSON,
    "bucket": st.fixed_dictionaries({
        "start": _MOMENT, "stop": _MOMENT,
        "toggles": st.dictionaries(st.sampled_from(["demo", "x" * 130, ""]) | st.text(max_size=8),
                                   st.fixed_dictionaries({"yes": _COUNT, "no": _COUNT}) | _JSON,
                                   max_size=3),
    }) | _JSON,
})
_REGISTRATION = st.fixed_dictionaries({
    "appName": st.just("crm") | _JSON, "instanceId": st.just("i-1") | _JSON,
    "sdkVersion": st.just("unleash-python-sdk:6.9.1") | _JSON, "strategies": st.just(["default"]) | _JSON,
    "started": _MOMENT, "interval": _COUNT,
})


def test_generated_sdk_reports_never_get_a_server_error(app, client_token):
    _company()
    client = app.test_client()
    statuses: dict[int, int] = {}

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(["/api/client/register", "/api/client/metrics"]),
           body=_REPORT | _REGISTRATION | _JSON)
    def run(path, body):
        response = client.post(path, json=body, headers={"Authorization": client_token})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (path, body, response.get_data(as_text=True)[:300])

    run()
    assert {202, 422} <= set(statuses)  # both accepted and refused reports were generated

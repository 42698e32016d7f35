"""Schemathesis against /api/openapi.json, in process against the WSGI app with an admin token:
every generated request answers without a 5xx, in the documented content type, with a body that
matches the documented schema. At least 1,000 generated cases over every operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
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


def _fuzz(operation, headers: dict, counted: dict[str, int], failures: list[str]) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=CASES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        counted[label] = counted.get(label, 0) + 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
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

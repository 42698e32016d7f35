"""The answers of the API as JSON schemas: what each view returns, declared with ``@answers``
(app/api/declare.py) and put into the OpenAPI document's components next to the bodies, which are
generated from the pydantic models of this package. Answers are checked by the schemathesis test
(tests/test_openapi_fuzz.py) against what the views really return."""

from __future__ import annotations

from app import months
from app.models import LABELS


def nullable(schema: dict) -> dict:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: tuple[str, ...] = (), **properties: dict) -> dict:
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: dict, **extra) -> dict:
    return {"type": "array", "items": items, **extra}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
STAMP = {"type": "string", "format": "date-time"}
DAY = {"type": "string", "format": "date"}
MONTH = {"type": "string", "pattern": months.PATTERN}
N_NUM = nullable(NUM)
N_STR = nullable(STR)
N_INT = nullable(INT)

KPI_FIELDS = {
    "feature": STR, "start": STR, "end": STR, "exposed_users": INT, "active_users": INT,
    "adoption_rate": N_NUM, "ai_tasks": INT, "depth": N_NUM, "stickiness": N_NUM,
    "time_saved_hours": N_NUM, "time_saved_estimated": nullable(BOOL), "time_saved_evidence": N_STR,
    "value_eur": N_NUM, "error_rate": N_NUM, "baseline_error_rate": N_NUM,
    "adoption_rate_ci_low": N_NUM, "adoption_rate_ci_high": N_NUM,
    "error_rate_ci_low": N_NUM, "error_rate_ci_high": N_NUM,
    "baseline_error_rate_ci_low": N_NUM, "baseline_error_rate_ci_high": N_NUM,
    "time_to_first_use_hours": N_NUM, "never_used_share": N_NUM,
    "habit": nullable(obj(("daily", "weekly", "monthly", "never"),
                          daily=INT, weekly=INT, monthly=INT, never=INT)),
}
ROI_FIELDS = ("value_eur", "cost_eur", "cost_per_task_eur", "net_eur", "roi_pct", "cumulative_net_eur")

RESPONSES: dict[str, dict] = {
    "Error": obj(
        ("error", "details"), error=STR,
        details=array(obj(("message",), index=N_INT, field=N_STR, message=STR)),
    ),
    "Person": obj(("person_id",), person_id=STR, name=N_STR, email=N_STR, department=N_STR),
    "Department": obj(("name", "hourly_rate_eur"), name=STR, hourly_rate_eur=N_NUM, people=INT),
    "Cohort": obj(("key", "name", "members"), key=STR, name=STR, members=array(STR)),
    "Stage": obj(("name", "percentage"), position=INT, name=STR, cohorts=array(STR), percentage=INT,
                 audience_size=INT),
    "Feature": obj(
        ("key", "name", "stages"), key=STR, name=STR, description=N_STR, owner=N_STR,
        baseline_days=INT, estimated_minutes_saved=N_NUM, per_event_cost_eur=N_NUM,
        current_stage=INT, killed=BOOL, archived=BOOL, archived_at=nullable(STAMP),
        stages=array(ref("Stage")), history=array({"type": "object"}),
        variants=array(obj(("name", "weight"), name=STR, weight=INT, payload=nullable({"type": "object"}),
                           cost_per_task_eur=N_NUM)),
        variant_rule=nullable(ref("VariantRule")), variant_history=array({"type": "object"}),
    ),
    "VariantComparison": obj(
        ("feature", "start", "end", "control", "variants", "differences", "sample_ratio", "decision"),
        feature=STR, start=DAY, end=DAY, control=STR, variants=array({"type": "object"}),
        differences={"type": "object", "description": "variant -> figure -> {difference, ci_low, "
                                                      "ci_high, excludes_zero}"},
        people_needed_per_variant=nullable({"type": "object"}), sample_ratio={"type": "object"},
        decision={"type": "object"}),
    "CostEntry": obj(
        ("id", "feature", "month", "amount_eur", "category", "voided"), id=INT, feature=STR, month=STR,
        amount_eur=NUM, category=STR, note=N_STR, recorded_at=nullable(STAMP), voided=BOOL,
        voided_at=nullable(STAMP), void_reason=N_STR,
    ),
    "Feedback": obj(("id", "rating"), id=INT, rating=INT, comment=N_STR, category=N_STR, severity=STR,
                    status=STR, owner=N_STR, occurred_at=STR),
    "Kpis": {**obj(tuple(KPI_FIELDS), **KPI_FIELDS),
             "properties": {**KPI_FIELDS, "groups": array({"type": "object"})}},
    "RoiLine": obj(("feature",), feature=STR, **{k: N_NUM for k in ROI_FIELDS}, payback_month=N_STR),
    "Roi": obj(("month", "features", "total"), month=STR, features=array(ref("RoiLine")),
               total={"type": "object"}),
    "JobRun": obj(("id", "job", "status"), id=INT, job=STR, trigger=STR, status=STR, attempt=INT,
                  started_at=STR, finished_at=N_STR, duration_seconds=N_NUM, rows_read=N_INT,
                  rows_written=N_INT, error=N_STR),
    "Job": obj(("name",), name=STR, schedule=N_STR, description=N_STR,
               last_run=nullable({"type": "object"})),
    "Training": obj(("id", "title"), id=INT, stage=INT, title=STR, format=N_STR, trainer=N_STR,
                    held_on=STR, starts_at=N_STR, duration_minutes=N_INT,
                    attendees=array(obj(person_id=STR, completed=BOOL))),
    "ActionItem": obj(("id", "title", "status"), id=INT, title=STR, owner=N_STR, due_on=N_STR,
                      status=STR),
    "GateEvaluation": obj(("id",), id=INT, trigger=STR, transition_id=N_INT),
    "Drift": obj(("metric",), metric=STR, test=STR, checked_at=STR, p_value=N_NUM, diverged=BOOL),
    "Playbook": {"type": "object"},
    # GET /playbooks lists invalid files too, each with its errors, so one cannot hide the rest.
    "PlaybookListed": {"anyOf": [
        obj(("key", "valid"), key=STR, valid={"const": True}),
        obj(("key", "file", "valid", "error", "details"), key=STR, file=STR, valid={"const": False},
            error=STR, details=array(obj(("message",), field=N_STR, message=STR))),
    ]},
    "PersonExport": obj(
        ("profile", "cohorts", "exposure", "events", "feedback", "attendance"),
        profile=obj(("person_id",), person_id=STR, name=N_STR, email=N_STR, department=N_STR,
                    created_at=N_STR, erased_at=N_STR),
        cohorts=array({"type": "object"}), exposure=array({"type": "object"}),
        events=array({"type": "object"}), feedback=array({"type": "object"}),
        attendance=array({"type": "object"}),
    ),
    "Erased": obj(("person_id", "erased_at", "comments_replaced", "event_texts_erased"),
                  person_id=STR, erased_at=STR, comments_replaced=INT, event_texts_erased=INT,
                  review_fixes_erased=INT),
    # Review queues, datasets and evaluation runs (app/api/reviews.py, docs/review.md).
    "ReviewedQuality": obj(
        ("reviewed_error_rate", "reviewed_error_rate_ci_low", "reviewed_error_rate_ci_high"),
        feature=STR, stage=N_INT, variant=N_STR, reviewed_items=INT, assessed=INT, errors=INT, corrected=INT,
        wrong=INT, not_assessable=INT, reviewed_error_rate=N_NUM, reviewed_error_rate_ci_low=N_NUM,
        reviewed_error_rate_ci_high=N_NUM,
        agreement=obj(("items", "kappa"), items=INT, observed_agreement=N_NUM, kappa=N_NUM)),
    "ReviewSample": obj(
        ("id", "stage", "items", "labelled"), id=INT, stage=INT, variant=N_STR, items=INT, labelled=INT,
        second_reviews_due=INT, second_reviews_done=INT, created_by=STR, created_at=STR, seed=INT,
        reviewed_error_rate=N_NUM, reviewed_error_rate_ci_low=N_NUM, reviewed_error_rate_ci_high=N_NUM,
        agreement={"type": "object"}, waiting=array(ref("ReviewItem"))),
    "ReviewItem": obj(
        ("id", "event_id", "output", "labels"), id=INT, event_id=STR, task=STR, occurred_at=STR,
        department=N_STR, outcome=STR, output=N_STR, correction=N_STR, model_version=N_STR,
        needs_second=BOOL, labels=array(obj(("round", "reviewer", "label"), round=INT, reviewer=STR,
                                            label={"enum": list(LABELS)}, category=N_STR, fix=N_STR))),
    "DatasetVersion": obj(("dataset", "version", "items"), dataset=STR, version=INT, items=INT,
                          filter={"type": "object"}, created_by=STR, created_at=STR),
    "EvaluationRun": obj(
        ("id", "dataset", "version", "model_version", "items", "passed", "pass_rate"), id=INT, dataset=STR,
        version=INT, model_version=STR, variant=N_STR, posted_by=STR, posted_at=STR, items=INT,
        passed=INT, pass_rate=N_NUM, pass_rate_ci_low=N_NUM, pass_rate_ci_high=N_NUM),
}

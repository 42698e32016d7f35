"""The OpenAPI 3.1 document at GET /api/openapi.json, generated from the routes themselves.

Paths, methods and path parameters come from ``app.url_map``; the permission from each view's
``@requires``; the summary from its docstring. What a view takes and answers is declared in
OPERATIONS below, keyed by endpoint, next to the shared schemas. A /api/v1 route without an entry
makes ``build_document`` raise (and tests/test_openapi_document.py fail), so the document cannot
fall behind the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Flask, current_app, jsonify

from app import months
from app.models import COST_CATEGORIES, EVENT_TEXT_MAX, LABELS, MODEL_VERSION_MAX, OUTCOMES
from app.models.review import CATEGORY_MAX, VARIANT_MAX
from app.security import PERMISSIONS


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


def body(required: tuple[str, ...] = (), **properties: dict) -> dict:
    """A request object: a field it does not declare is refused with a 422 (app/api/known_fields.py)."""
    return {**obj(required, **properties), "additionalProperties": False}


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

SCHEMAS: dict[str, dict] = {
    "Error": obj(
        ("error", "details"), error=STR,
        details=array(obj(("message",), index=N_INT, field=N_STR, message=STR)),
    ),
    "Person": obj(("person_id",), person_id=STR, name=N_STR, email=N_STR, department=N_STR),
    "PersonIn": body(
        ("person_id",),
        person_id={**STR, "description": "any opaque, pseudonymous id: no e-mail needed"},
        name=N_STR, email=N_STR, department=N_STR,
    ),
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
    "StageIn": body(("name",), name=STR, cohorts=array(STR),
                   percentage={"type": "integer", "minimum": 0, "maximum": 100}),
    "CostEntry": obj(
        ("id", "feature", "month", "amount_eur", "category", "voided"), id=INT, feature=STR, month=STR,
        amount_eur=NUM, category=STR, note=N_STR, recorded_at=nullable(STAMP), voided=BOOL,
        voided_at=nullable(STAMP), void_reason=N_STR,
    ),
    "Reason": body(("reason",), reason={"type": "string", "minLength": 1, "maxLength": 2000}),
    "FeatureIn": body(
        ("key", "name", "stages"), key=STR, name=STR, description=N_STR, owner=N_STR,
        baseline_days=INT, estimated_minutes_saved=N_NUM, per_event_cost_eur=N_NUM,
        stages=array(body(("name",), name=STR, cohorts=array(STR),
                          percentage={"type": "integer", "minimum": 0, "maximum": 100})),
        variants={**array(ref("VariantIn")), "description": "weights are percentages summing to 100"},
    ),
    "VariantIn": body(("name", "weight"), name={"type": "string", "minLength": 1, "maxLength": 100},
                      weight={"type": "integer", "minimum": 0, "maximum": 100},
                      payload={"type": "object"}, cost_per_task_eur={**N_NUM, "minimum": 0}),
    "VariantComparison": obj(
        ("feature", "start", "end", "control", "variants", "differences", "sample_ratio", "decision"),
        feature=STR, start=DAY, end=DAY, control=STR, variants=array({"type": "object"}),
        differences={"type": "object", "description": "variant -> figure -> {difference, ci_low, "
                                                      "ci_high, excludes_zero}"},
        people_needed_per_variant=nullable({"type": "object"}), sample_ratio={"type": "object"},
        decision={"type": "object"}),
    "VariantRule": body(("control",), control=STR,
                        max_error_rate_increase={"type": "number", "minimum": 0, "maximum": 1},
                        objective={"enum": ["cost_per_task", "net_eur_per_person"]}),
    "Transition": body(effective_at=STAMP, reason=STR),
    "Advance": body(effective_at=STAMP, reason=STR, override=BOOL),
    "Event": body(
        ("event_id", "feature", "person_id", "occurred_at", "ai_assisted", "outcome"),
        event_id=STR, source=STR, feature=STR, person_id=STR, occurred_at=STAMP, task=STR,
        ai_assisted=BOOL, duration_seconds=N_NUM, outcome={"enum": list(OUTCOMES)},
        variant={**N_STR, "description": "one of the feature's variants; absent: the variant the "
                                         "person had at occurred_at"},
        cost_eur={**N_NUM, "minimum": 0}, output={**N_STR, "maxLength": EVENT_TEXT_MAX},
        correction={**N_STR, "maxLength": EVENT_TEXT_MAX},
        model_version={**N_STR, "maxLength": MODEL_VERSION_MAX},
    ),
    "FeedbackIn": body(
        ("feature", "person_id", "rating", "occurred_at"), feature=STR, person_id=STR,
        rating={"type": "integer", "minimum": 1, "maximum": 5}, comment=N_STR, category=N_STR,
        occurred_at=STAMP,
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
        agreement={"type": "object"}, waiting=array({"$ref": "#/components/schemas/ReviewItem"})),
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


@dataclass(frozen=True)
class Operation:
    """What one API view takes and answers."""

    response: dict
    status: int = 200
    body: dict | None = None
    body_required: bool = True
    query: dict[str, dict] = field(default_factory=dict)
    media_type: str = "application/json"


TRANSITION = Operation(ref("Feature"), body=ref("Transition"), body_required=False)
ATTENDEES = array({"anyOf": [STR, body(("person_id",), person_id=STR, completed=BOOL)]})
OPERATIONS: dict[str, Operation] = {
    "api.upsert_people": Operation(
        obj(("created", "updated"), created=INT, updated=INT), body=array(ref("PersonIn")),
        query={"create_departments": {
            "enum": ["1", "true", "yes", "0", "false", "no"],
            "description": "default true: a department not seen before is created without a rate"}},
    ),
    "api.list_people": Operation(array(ref("Person")), query={"department": STR}),
    "api.put_department": Operation(ref("Department"), body=body(hourly_rate_eur=N_NUM)),
    "api.list_departments": Operation(array(ref("Department"))),
    "api.put_cohort": Operation(ref("Cohort"), body=body(("name", "members"), name=STR,
                                                           members=array(STR), effective_at=STAMP)),
    "api.list_cohorts": Operation(array(ref("Cohort"))),
    "api.get_cohort": Operation(ref("Cohort")),
    "api.create_feature": Operation(ref("Feature"), 201, body=ref("FeatureIn")),
    "api.list_features": Operation(array({"type": "object"}),
                                   query={"include_archived": {"enum": ["true", "false"]}}),
    "api.list_costs": Operation(array(ref("CostEntry"))),
    "api.void_cost": Operation(ref("CostEntry"), body=ref("Reason")),
    "api.void_events": Operation(
        obj(("voided", "already_voided"), voided=INT, already_voided=INT),
        body=body(("event_ids", "reason"), event_ids=array(STR, minItems=1, maxItems=1000), source=STR,
                 reason={"type": "string", "minLength": 1, "maxLength": 2000}),
    ),
    "api.archive_feature": Operation(ref("Feature"), body=ref("Reason")),
    "api.unarchive_feature": Operation(ref("Feature"), body=ref("Reason")),
    "api.replace_stages": Operation(ref("Feature"), body=body(
        ("stages", "reason"), stages=array(ref("StageIn"), minItems=1),
        reason={"type": "string", "minLength": 1, "maxLength": 2000})),
    "api.patch_stage": Operation(ref("Feature"), body=body(
        ("reason",), name=STR, cohorts=array(STR),
        percentage={"type": "integer", "minimum": 0, "maximum": 100},
        reason={"type": "string", "minLength": 1, "maxLength": 2000})),
    "api.get_feature": Operation(ref("Feature")),
    "api.advance_feature": Operation(ref("Feature"), body=ref("Advance"), body_required=False),
    "api.rollback_feature": TRANSITION,
    "api.kill_feature": TRANSITION,
    "api.resume_feature": TRANSITION,
    "api.put_variants": Operation(ref("Feature"), body=body(
        ("variants",), variants=array(ref("VariantIn"), minItems=1), rule=ref("VariantRule"),
        reason={"type": "string", "maxLength": 2000}, effective_at=STAMP)),
    "api.promote_variant": Operation(ref("Feature"), body=body(
        ("reason",), reason={"type": "string", "minLength": 1, "maxLength": 2000}, effective_at=STAMP)),
    "api.compare_variants": Operation(ref("VariantComparison"), query={
        "start": DAY, "end": DAY, "control": STR, "adoption_difference": NUM, "net_eur_difference": NUM}),
    "api.list_sdks": Operation(obj(("instances",), instances=array({"type": "object"}),
                                   rejected_fetches=array({"type": "object"}))),
    "api.post_events": Operation(
        obj(("accepted", "duplicates"), accepted=INT, duplicates=INT),
        body=array(ref("Event"), maxItems=10_000),
    ),
    "api.post_feedback": Operation(obj(("accepted",), accepted=INT), body=array(ref("FeedbackIn"))),
    "api.post_baseline": Operation(
        obj(("id",), id=INT, task=STR, minutes_per_task=N_NUM, error_rate=N_NUM, source=STR,
            measured_at=STR), 201,
        body=body(("feature", "source", "measured_at"), feature=STR, task=STR, minutes_per_task=N_NUM,
                 error_rate=N_NUM, source=STR, measured_at=STAMP),
    ),
    "api.post_cost": Operation(
        obj(("id", "feature", "month", "amount_eur", "category"), id=INT, feature=STR, month=STR,
            amount_eur=NUM, category=STR, note=N_STR), 201,
        body=body(("month", "amount_eur", "category"), month=MONTH, amount_eur=NUM,
                 category={"enum": list(COST_CATEGORIES)}, note=N_STR),
    ),
    "api.get_feature_kpis": Operation(
        ref("Kpis"), query={"start": DAY, "end": DAY,
                            "group_by": {"enum": ["department", "cohort", "variant"]}}
    ),
    "api.get_monthly_roi": Operation(ref("Roi"), query={"month": MONTH}),
    "api.close_month": Operation(obj(
        ("month", "closed_at", "fingerprint", "figures", "closed_now"), month=MONTH, closed_at=STR,
        fingerprint=STR, restated_at=N_STR, closed_now=BOOL,
        figures=obj(("features", "total"), features=array(ref("RoiLine")), total={"type": "object"}))),
    "api.list_jobs": Operation(array(ref("Job"))),
    "api.job_runs": Operation(array(ref("JobRun")),
                              query={"limit": {"type": "integer", "minimum": 1, "maximum": 500}}),
    "api.run_now": Operation(ref("JobRun"), body=body(full=BOOL), body_required=False),
    "api.list_playbooks": Operation(array(ref("PlaybookListed"))),
    "api.get_playbook": Operation(ref("Playbook")),
    "api.attach_playbook": Operation(
        obj(("feature", "playbook"), feature=STR, playbook=STR, started_at=STR),
        body=body(("playbook",), playbook=STR),
    ),
    "api.record_training": Operation(ref("Training"), 201, body=body(
        ("stage", "title", "trainer", "held_on"), stage=INT, title=STR, trainer=STR, held_on=DAY,
        starts_at=nullable(STAMP), format=N_STR, duration_minutes=N_INT, attendees=ATTENDEES)),
    "api.list_trainings": Operation(array(ref("Training"))),
    "api.record_attendance": Operation(ref("Training"), body=ATTENDEES),
    "api.list_feedback": Operation(array(ref("Feedback")), query={"status": STR, "category": STR}),
    "api.triage_feedback": Operation(ref("Feedback"), body=body(("status",), status=STR, owner=N_STR)),
    "api.export_corrections": Operation(STR, query={"format": {"enum": ["jsonl", "csv"]}},
                                        media_type="text/plain"),
    "api.create_action_item": Operation(ref("ActionItem"), 201, body=body(
        ("title",), title=STR, owner=N_STR, due_on=nullable(DAY))),
    "api.list_action_items": Operation(array(ref("ActionItem"))),
    "api.update_action_item": Operation(ref("ActionItem"), body=body(
        title=STR, owner=N_STR, due_on=nullable(DAY), status=STR)),
    "api.evaluate_gate": Operation(ref("GateEvaluation")),
    "api.gate_history": Operation(array(ref("GateEvaluation"))),
    "api.promote": Operation(
        obj(("feature", "current_stage"), feature=STR, current_stage=INT, gate=ref("GateEvaluation")),
        body=body(override=BOOL, reason=N_STR),
    ),
    "api.latest_drift": Operation(array(ref("Drift"))),
    "api.export_person": Operation(ref("PersonExport")),
    "api.erase_person": Operation(ref("Erased")),
    # Review queues, datasets and evaluation runs (app/api/reviews.py; bodies in app/schemas/reviews.py).
    "api.draw_review_sample": Operation(ref("ReviewSample"), 201, body=body(
        stage={"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        variant=nullable({**STR, "maxLength": VARIANT_MAX}),
        size={"type": "integer", "minimum": 1, "maximum": 10_000},
        second_share={"type": "number", "minimum": 0, "maximum": 1},
        seed={"type": "integer", "minimum": 0, "maximum": 2**31 - 1}), body_required=False),
    "api.get_review_sample": Operation(ref("ReviewSample")),
    "api.label_review_item": Operation(ref("ReviewItem"), body=body(
        ("label",), label={"enum": list(LABELS)},
        category=nullable({**STR, "maxLength": CATEGORY_MAX,
                           "description": "required for corrected and wrong"}),
        fix=nullable({**STR, "maxLength": EVENT_TEXT_MAX,
                      "description": "the fixed version (corrected only)"}))),
    "api.reviewed_quality": Operation(ref("ReviewedQuality"), query={"stage": INT, "variant": STR}),
    "api.export_dataset": Operation(ref("DatasetVersion"), 201, body=body(
        ("feature",), feature=STR, variant=nullable({**STR, "maxLength": VARIANT_MAX}),
        start=nullable(DAY), end=nullable(DAY), category=nullable({**STR, "maxLength": CATEGORY_MAX}))),
    "api.list_dataset_versions": Operation(obj(("dataset", "versions"), dataset=STR,
                                               versions=array(ref("DatasetVersion")))),
    "api.download_dataset": Operation(STR, query={"format": {"enum": ["jsonl", "csv"]}},
                                      media_type="text/plain"),
    "api.post_evaluation": Operation(ref("EvaluationRun"), 201, body=body(
        ("model_version", "results"), model_version={**STR, "maxLength": MODEL_VERSION_MAX},
        version={"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        variant=nullable({**STR, "maxLength": VARIANT_MAX}),
        results=array(body(("item", "passed"), item={"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                           passed=BOOL, score=N_NUM), minItems=1))),
}

ROW_ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}  # app.api.RowId
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
MEDIA_TYPES = {"text/plain": ("text/csv", "application/x-ndjson")}


def _path(rule: str) -> tuple[str, list[dict]]:
    params = [
        {"name": name, "in": "path", "required": True,
         "schema": ROW_ID if converter == "int" else {"type": "string", "minLength": 1}}
        for converter, name in _PARAM.findall(rule)
    ]
    return _PARAM.sub(r"{\2}", rule), params


def body_schema(endpoint: str | None) -> dict | None:
    """The declared request body of an endpoint (what app/api/known_fields.py checks against)."""
    spec = OPERATIONS.get(endpoint or "")
    return spec.body if spec is not None else None


def resolve(reference: str) -> dict:
    """The shared schema a ``#/components/schemas/NAME`` reference points at."""
    return SCHEMAS[reference.rsplit("/", 1)[-1]]


def _operation(app: Flask, rule, method: str) -> dict:
    spec = OPERATIONS.get(rule.endpoint)
    if spec is None:
        raise LookupError(f"{method} {rule.rule} ({rule.endpoint}) has no entry in app/api/openapi.py")
    view = app.view_functions[rule.endpoint]
    permission = getattr(view, "liftoff_permission", None)
    kinds, roles = PERMISSIONS[permission]
    path, params = _path(rule.rule)
    doc = (view.__doc__ or "").strip().splitlines()
    media = {m: {"schema": spec.response} for m in MEDIA_TYPES.get(spec.media_type, (spec.media_type,))}
    error = {"description": "the error and every problem found",
             "content": {"application/json": {"schema": ref("Error")}}}
    operation = {
        "operationId": rule.endpoint.split(".", 1)[1],
        "summary": doc[0] if doc else rule.endpoint,
        "description": f"Needs `{permission}`: tokens {sorted(kinds)}, roles {sorted(roles)}.",
        "parameters": params + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in spec.query.items()
        ],
        "responses": {str(spec.status): {"description": "done", "content": media}, "4XX": error},
        "security": [{"bearer": []}, {"session": []}],
        "x-permission": permission,
    }
    if spec.body is not None:
        operation["requestBody"] = {"required": spec.body_required,
                                    "content": {"application/json": {"schema": spec.body}}}
    return operation


def build_document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every /api/v1 route of ``app``."""
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        path, _ = _path(rule.rule.removeprefix("/api/v1"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(app, rule, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Liftoff API", "version": "1",
                 "description": "Staged AI-feature rollouts, KPIs and ROI. See docs/api.md."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "an admin or ingest token (`liftoff tokens create`)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "a dashboard login; writes also need the X-CSRFToken header"},
            },
        },
    }


def register(app: Flask) -> None:
    @app.get("/api/openapi.json")
    def openapi_document():
        """The OpenAPI 3.1 document of the REST API (public: it holds no data)."""
        document = current_app.extensions.get("liftoff_openapi")
        if document is None:
            document = current_app.extensions["liftoff_openapi"] = build_document(current_app)
        return jsonify(document)

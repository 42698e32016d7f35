"""Review queues, datasets of corrections and evaluation runs (issue #19; docs/review.md)."""

from __future__ import annotations

from flask import Response, jsonify, request

from app.api import bp, parsed_body
from app.api.declare import accepts, answers
from app.db import db
from app.errors import Detail, ValidationFailed
from app.models import ReviewItem
from app.schemas.responses import INT, STR, array, obj, ref
from app.schemas.reviews import DatasetExportIn, EvaluationIn, LabelIn, SampleIn
from app.security import acting_identity, requires
from app.services.review import datasets, evaluations, labels, sampling


def _actor() -> str:
    return acting_identity().name


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise ValidationFailed(f"invalid {name}", [Detail(name, "must be a whole number")])
    return int(raw)


@bp.post("/features/<key>/review-samples")
@requires("reviews:label")
@accepts(SampleIn, required=False)
@answers(ref("ReviewSample"), 201)
def draw_review_sample(key: str):
    """Draw a review sample of the feature's AI outputs (random, stratified by department)."""
    body = parsed_body("invalid request body")
    sample = sampling.draw_sample(key, _actor(), **body.model_dump())
    db.session.commit()
    return jsonify(labels.sample_summary(sample.id)), 201


@bp.get("/review-samples/<int:sample_id>")
@requires("reviews:label")
@answers(ref("ReviewSample"))
def get_review_sample(sample_id: int):
    """A sample's figures and the items waiting for the caller (outputs to label)."""
    summary = labels.sample_summary(sample_id)
    waiting = [labels.item_view(item) for item in labels.queue(sample_id, _actor())]
    return jsonify({**summary, "waiting": waiting})


@bp.post("/review-items/<int:item_id>/label")
@requires("reviews:label")
@accepts(LabelIn)
@answers(ref("ReviewItem"))
def label_review_item(item_id: int):
    """Label an item: correct, corrected (with the fix), wrong or not_assessable, with a category."""
    body = parsed_body("invalid request body")
    label = labels.label_item(item_id, _actor(), body.label, body.category, body.fix)
    db.session.commit()
    # The label just written references the item (a foreign key): get() finds it.
    return jsonify(labels.item_view(db.session.get_one(ReviewItem, label.item_id)))


@bp.get("/features/<key>/reviewed-quality")
@requires("read")
@answers(ref("ReviewedQuality"), query={"stage": INT, "variant": STR})
def reviewed_quality(key: str):
    """The reviewed error rate with its 95 % interval and the reviewers' agreement (Cohen's kappa)."""
    variant = request.args.get("variant") or None
    return jsonify(labels.reviewed_quality(key, _int_arg("stage"), variant))


@bp.post("/datasets/<key>/versions")
@requires("datasets:export")
@accepts(DatasetExportIn)
@answers(ref("DatasetVersion"), 201)
def export_dataset(key: str):
    """Freeze a new version of the dataset from a filter (recorded: who, when, filter, items)."""
    body = parsed_body("invalid request body")
    version = datasets.export_version(key, _actor(), **body.model_dump())
    db.session.commit()
    return jsonify(datasets.version_record(version)), 201


@bp.get("/datasets/<key>")
@requires("read")
@answers(obj(("dataset", "versions"), dataset=STR, versions=array(ref("DatasetVersion"))))
def list_dataset_versions(key: str):
    """The dataset's versions: who exported each, when, with which filter, how many items."""
    return jsonify({"dataset": key, "versions": datasets.list_versions(key)})


@bp.get("/datasets/<key>/versions/<int:version>")
@requires("datasets:export")
@answers(STR, query={"format": {"enum": ["jsonl", "csv"]}}, media_type="text/plain")
def download_dataset(key: str, version: int):
    """One version's items (?format=jsonl or csv), texts as they stand now."""
    fmt = request.args.get("format", "jsonl")
    text = datasets.render(datasets.version_of(key, version), fmt)
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(text, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{key}-v{version}.{fmt}"'})


@bp.post("/datasets/<key>/evaluations")
@requires("evaluations:write")
@accepts(EvaluationIn)
@answers(ref("EvaluationRun"), 201)
def post_evaluation(key: str):
    """Record an evaluation run of a model version on a dataset version: every item, pass or fail."""
    body = parsed_body("invalid request body")
    run = evaluations.record_run(key, _actor(), body.model_version,
                                 [r.model_dump() for r in body.results], body.version, body.variant)
    db.session.commit()
    return jsonify(evaluations.run_record(run)), 201

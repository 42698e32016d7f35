"""Evaluation runs: a harness runs a model version on a dataset version and posts, per item, pass
or fail (and optionally a score). All items or nothing: an unknown, repeated or missing item is a
422 naming it, and nothing is written. Gates judge the latest run's pass rate on its interval."""

from __future__ import annotations

import math

from sqlalchemy import select

from app.db import db
from app.errors import Collector, NotFound
from app.kpi.review import pass_rate
from app.models import (
    MODEL_VERSION_MAX,
    Dataset,
    DatasetItem,
    DatasetVersion,
    EvaluationResult,
    EvaluationRun,
)
from app.models.review import VARIANT_MAX
from app.services.audit import audit
from app.services.review.datasets import dataset_by_key, version_of
from app.services.review.stages import bad_name


def _results(results, known: set[int], problems: Collector) -> list[tuple[int, bool, float | None]]:
    if not isinstance(results, list) or not results:
        problems.add("results", "must be a non-empty list of {item, passed, score?}")
        return []
    rows: list[tuple[int, bool, float | None]] = []
    seen: set[int] = set()
    for i, row in enumerate(results):
        if not isinstance(row, dict):
            problems.add("results", "must be an object {item, passed, score?}", i)
            continue
        item, passed, score = row.get("item"), row.get("passed"), row.get("score")
        if isinstance(item, bool) or not isinstance(item, int):
            problems.add("item", "must be an item_id of the dataset version", i)
        elif item not in known:
            problems.add("item", f"no item {item} in this dataset version", i)
        elif item in seen:
            problems.add("item", f"item {item} is given twice", i)
        if not isinstance(passed, bool):
            problems.add("passed", "must be true or false", i)
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                                  or not math.isfinite(score)):
            problems.add("score", "must be a finite number", i)
        if isinstance(item, int) and not isinstance(item, bool):
            seen.add(item)
            # ``passed is True``: the bool itself when it is one; any other value was reported
            # above, so these rows are never stored.
            rows.append((item, passed is True, float(score) if score is not None else None))
    return rows


def record_run(dataset_key: str, actor: str, model_version: str, results: list,
               version: int | None = None, variant: str | None = None) -> EvaluationRun:
    """Store an evaluation run of ``model_version`` on a version of a dataset (default: the latest).

    :param results: ``[{"item": item_id, "passed": bool, "score"?: number}]``, one per item of the
        version, every item exactly once.
    :param variant: the variant this model version serves, when it is a variant's model.
    :raises ValidationFailed: naming every bad field and row. :raises NotFound: no such dataset/version.
    """
    target = version_of(dataset_key, version)
    known = set(db.session.scalars(select(DatasetItem.id).where(DatasetItem.version_id == target.id)))
    problems = Collector()
    if bad_name(model_version, MODEL_VERSION_MAX):
        problems.add("model_version", f"must be a text of at most {MODEL_VERSION_MAX} characters")
    if variant is not None and bad_name(variant, VARIANT_MAX):
        problems.add("variant", f"must be a variant name of at most {VARIANT_MAX} characters")
    rows = _results(results, known, problems)
    missing = known - {item for item, _, _ in rows}
    if rows and missing and not problems.details:
        shown = ", ".join(str(i) for i in sorted(missing)[:10])
        problems.add("results", f"{len(missing)} item(s) of the version have no result: {shown}"
                                + (", ..." if len(missing) > 10 else ""))
    problems.raise_if_any("invalid evaluation run")
    run = EvaluationRun(version_id=target.id, model_version=model_version.strip(), variant=variant,
                        items=len(rows), passed=sum(1 for _, ok, _ in rows if ok), posted_by=actor)
    db.session.add(run)
    db.session.flush()
    db.session.add_all(EvaluationResult(run_id=run.id, item_id=item, passed=ok, score=score)
                       for item, ok, score in rows)
    db.session.flush()
    audit(actor, "evaluation.run", "dataset", dataset_key, None,
          {"run": run.id, "version": target.version, "model_version": run.model_version,
           "variant": variant, "items": run.items, "passed": run.passed})
    return run


def run_record(run: EvaluationRun) -> dict:
    version = db.session.get(DatasetVersion, run.version_id)
    # Both are foreign keys (run -> version -> dataset): the rows always exist.
    if version is None:
        raise NotFound(f"dataset version {run.version_id} of evaluation run {run.id}")
    dataset = db.session.get(Dataset, version.dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {version.dataset_id} of evaluation run {run.id}")
    return {"id": run.id, "dataset": dataset.key, "version": version.version,
            "model_version": run.model_version, "variant": run.variant, "posted_by": run.posted_by,
            "posted_at": run.posted_at.isoformat(), **pass_rate(run.passed, run.items)}


def latest_run(dataset_key: str, variant: str | None = None) -> EvaluationRun | None:
    """The latest run on any version of the dataset (of ``variant``'s model when given)."""
    dataset = dataset_by_key(dataset_key)
    query = select(EvaluationRun).join(DatasetVersion, DatasetVersion.id == EvaluationRun.version_id) \
        .where(DatasetVersion.dataset_id == dataset.id)
    if variant is not None:
        query = query.where(EvaluationRun.variant == variant)
    return db.session.scalar(query.order_by(EvaluationRun.posted_at.desc(), EvaluationRun.id.desc()).limit(1))

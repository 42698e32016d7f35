"""Every periodic job, declared in one registry: a name, the import path of a module-level function,
when it runs and what it does. The scheduler, ``liftoff jobs`` and ``/api/v1/jobs`` all read it.

Targets are resolved lazily (``module:function``), so a job whose module is missing fails alone,
with a clear error, instead of stopping the scheduler. Connector pulls are one job per configured
connector, named ``pull:<connector>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import LiftoffError, NotFound


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str  # "package.module:function"
    schedule: str  # 5-field crontab (UTC) or "every 30s" / "every 5m" / "every 1h"
    description: str
    kwargs: dict = field(default_factory=dict)
    feature: str | None = None  # whose alert channels hear about its failures, besides the global ones


JOBS: list[JobSpec] = [
    JobSpec(
        "refresh-kpis",
        "app.jobs.kpi:refresh_kpis",
        "every 5m",
        "Recompute the daily KPI rollups touched by events accepted since the last run.",
    ),
    JobSpec(
        "precompute-kpis",
        "app.jobs.kpi:precompute_kpis",
        "every 1m",
        "Compute every feature's KPI answers of the latest 13 months that the shared store lacks "
        "(after a refresh: the newest month's), so month views and the board report read them at once.",
    ),
    JobSpec(
        "monthly-close",
        "app.jobs.kpi:monthly_close",
        "30 2 1 * *",
        "Freeze last month's ROI with a fingerprint of its inputs and e-mail the report to its "
        "subscribers (02:30 UTC on the 1st).",
    ),
    JobSpec(
        "flag-reconcile",
        "app.jobs.flags:reconcile_flags",
        "every 1m",
        "Apply pending rollout states to an external Unleash server and resolve drift.",
    ),
    JobSpec(
        "unleash-metrics",
        "app.jobs.flags:pull_unleash_metrics",
        "every 15m",
        "Copy the hourly yes/no counts from the Unleash server (Unleash backend only; else a no-op).",
    ),
    JobSpec(
        "evaluate-gates",
        "app.jobs.gates:evaluate_gates",
        "15 3 * * *",
        "Judge every live stage against its playbook's gate; promote where auto-promotion is on.",
    ),
    JobSpec(
        "guardrails",
        "app.jobs.gates:run_guardrails",
        "every 1h",
        "Roll back or kill a feature whose error rate breaks its guardrail, and announce it.",
    ),
    JobSpec(
        "drift-watch",
        "app.jobs.gates:drift_watch",
        "0 4 * * 1",
        "Compare live durations and error rates with the first month after rollout (weekly).",
    ),
    JobSpec(
        "text-retention",
        "app.jobs.privacy:blank_old_texts",
        "40 3 * * *",
        "Blank AI outputs, corrections and reviewers' fixes older than "
        "LIFTOFF_EVENT_TEXT_RETENTION_DAYS (0: kept until a GDPR erase).",
    ),
]


def connector_jobs() -> list[JobSpec]:
    """One pull job per enabled connector (YAML files and connectors configured in the app)."""
    from app.connectors.config import all_connectors

    return [
        JobSpec(
            f"pull:{c.name}",
            "app.jobs.pulls:pull_connector",
            c.schedule,
            c.description or f"Pull {c.kind} connector {c.name} into {c.target}.",
            kwargs={"connector": c.name},
            feature=c.feature,
        )
        for c in all_connectors()
        if c.enabled
    ]


def all_jobs() -> list[JobSpec]:
    """The registry: the fixed jobs, then one pull per connector. Needs an app context."""
    return [*JOBS, *connector_jobs()]


def listed_jobs() -> tuple[list[JobSpec], str | None]:
    """For listings: the registry, or the fixed jobs and the reason the connectors cannot be read."""
    try:
        return all_jobs(), None
    except LiftoffError as error:
        return list(JOBS), str(error)


def get_job(name: str) -> JobSpec:
    """The registry entry ``name``. Connector files are read only for ``pull:`` jobs, so a broken
    file never stops the fixed jobs; the broken connector's own run fails with the file's errors."""
    for spec in JOBS:
        if spec.name == name:
            return spec
    if name.startswith("pull:"):
        try:
            pulls = connector_jobs()
        except LiftoffError:
            # Run it anyway: pull_connector reads the file again and its run records why it failed.
            return JobSpec(name, "app.jobs.pulls:pull_connector", "", "", {"connector": name[5:]})
        for spec in pulls:
            if spec.name == name:
                return spec
    known = ", ".join(s.name for s in JOBS)
    raise NotFound(f"no job named {name!r} (fixed jobs: {known}; connector pulls are pull:<name>)")

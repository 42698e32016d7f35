"""The dashboard's corrections of a feature's rollout: archive or unarchive it, save the stages it has
not reached. Each re-checks the permission of the matrix (app/security.py) on the server, whatever
the page showed, and needs a reason; the services audit them. The caller commits. (Cost voids are
the Executive page's, dashboards/kpi/actions.py; event voids the Operations page's,
dashboards/operations/actions.py.)"""

from __future__ import annotations

import json

from app.errors import Detail, ValidationFailed
from app.models import Feature
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.rollout import feature_plan
from app.services.rollout import transitions as rollout
from dashboards.shell.refusals import required_reason

__all__ = ["NotAllowed", "may_archive", "may_edit_stages", "plan_state", "save_future_stages",
           "set_archived"]


def may_archive(identity: Identity | None) -> bool:
    return user_may(identity, "features:archive")


def may_edit_stages(identity: Identity | None) -> bool:
    return user_may(identity, "features:write")


def plan_state(key: str) -> dict:
    """``{"archived", "current", "reached", "future"}``: the stages reached (names) and the stages
    after the current one (``{"name", "cohorts", "percentage"}``, for the form)."""
    feature = rollout._load(key)
    future = [{"name": s.name, "cohorts": [c.key for c in s.cohorts], "percentage": s.percentage}
              for s in feature.stages if s.position > feature.current_stage]
    reached = [s.name for s in feature.stages if s.position <= feature.current_stage]
    return {"archived": feature.archived_at is not None, "current": feature.current_stage,
            "reached": reached, "future": future}


@dashboard_action("features:archive", "archive features (product or admin only)")
def set_archived(key: str, identity: Identity | None, reason: str | None, archived: bool) -> Feature:
    """Archive (``archived``) or unarchive the feature.

    :raises NotAllowed: the role lacks ``features:archive``.
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    action = feature_plan.archive if archived else feature_plan.unarchive
    return action(key, identity.name, required_reason(reason))


@dashboard_action("features:write", "change stage plans (product or admin only)")
def save_future_stages(key: str, identity: Identity | None, reason: str | None,
                       stages: list | str | None) -> Feature:
    """Replace the stages after the current one with ``stages`` (the form's list of stages, or a
    JSON text of one); the reached ones are kept as they are. A stage's details name its index in
    the whole plan (``stages[current + i]``).

    :raises NotAllowed: the role lacks ``features:write``.
    :raises ValidationFailed: the text is no JSON list, or a stage is invalid.
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    reason = required_reason(reason)
    future = stages
    if not isinstance(stages, list):
        try:
            future = json.loads(stages or "")
        except ValueError as error:
            raise ValidationFailed("the stages are not JSON", [Detail("stages", str(error))]) from None
    if not isinstance(future, list):
        raise ValidationFailed("invalid stages", [Detail("stages", "must be a JSON list of stages")])
    feature = rollout._load(key)
    reached = [{"name": s.name, "cohorts": [c.key for c in s.cohorts], "percentage": s.percentage}
               for s in feature.stages if s.position <= feature.current_stage]
    return feature_plan.replace_stages(key, reached + future, identity.name, reason)

"""Every table of the domain; importing this package registers them all on the metadata."""

import app.models.kpi  # noqa: F401  (rollups; KPI work)
import app.models.scheduling  # noqa: F401  (job store, connectors; scheduler work)
from app.models.access import ENVIRONMENTS, ROLES, TOKEN_KINDS, ApiToken, LoginFailure, User
from app.models.activity import (
    COST_CATEGORIES,
    EVENT_TEXT_MAX,
    FEEDBACK_STATUSES,
    MODEL_VERSION_MAX,
    OUTCOMES,
    Baseline,
    CostEntry,
    Event,
    Feedback,
)
from app.models.enablement import (
    ActionItem,
    Attendance,
    DriftCheck,
    GateEvaluation,
    PlaybookRun,
    TrainingSession,
)
from app.models.operations import (
    AuditEntry,
    FlagMetric,
    FlagSync,
    JobRun,
    RejectedFetch,
    SdkInstance,
)
from app.models.people import (
    Cohort,
    CohortMember,
    CohortMembership,
    Department,
    DepartmentMembership,
    Person,
)
from app.models.rollout import (
    TRANSITION_ACTIONS,
    ExposureSpell,
    Feature,
    FlagRevision,
    RolloutStage,
    RolloutTransition,
    stage_cohorts,
)
from app.models.variants import FeatureVariant, FlagVariantMetric, VariantWeightChange

__all__ = [
    "COST_CATEGORIES",
    "ENVIRONMENTS",
    "EVENT_TEXT_MAX",
    "FEEDBACK_STATUSES",
    "MODEL_VERSION_MAX",
    "OUTCOMES",
    "ROLES",
    "TOKEN_KINDS",
    "TRANSITION_ACTIONS",
    "ActionItem",
    "ApiToken",
    "Attendance",
    "AuditEntry",
    "Baseline",
    "Cohort",
    "CohortMember",
    "CohortMembership",
    "CostEntry",
    "DriftCheck",
    "Department",
    "DepartmentMembership",
    "Event",
    "ExposureSpell",
    "Feature",
    "FeatureVariant",
    "Feedback",
    "FlagMetric",
    "FlagRevision",
    "FlagSync",
    "FlagVariantMetric",
    "GateEvaluation",
    "JobRun",
    "LoginFailure",
    "Person",
    "PlaybookRun",
    "RejectedFetch",
    "RolloutStage",
    "RolloutTransition",
    "SdkInstance",
    "TrainingSession",
    "User",
    "VariantWeightChange",
    "stage_cohorts",
]

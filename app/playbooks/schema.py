"""What a playbook may say, and the typed form a valid one is turned into."""

from __future__ import annotations

from dataclasses import dataclass, field

# The words a playbook may use are the file schema's (app/schemas/playbooks.py), re-exported here
# where the services have always found them.
from app.schemas.playbooks import (  # noqa: E402, F401
    ADKAR,
    CADENCES,
    CHANNELS,
    CORRECTION_RATE_ACTIONS,
    DATASET_METRICS,
    DECISION_METRIC,
    GATE_METRICS,
    GUARDRAIL_ACTIONS,
    REVIEW_SAMPLE_SIZE,
    REVIEW_SECOND_SHARE,
    TRAINING_FORMATS,
    VARIANT_METRICS,
)


@dataclass(frozen=True)
class Training:
    title: str
    # "stage" (everyone in the stage's audience), "new" (people this stage adds) or "cohort:<key>".
    audience: str
    format: str
    duration_minutes: int
    adkar: str
    line: int

    @property
    def cohort_key(self) -> str | None:
        return self.audience.split(":", 1)[1] if self.audience.startswith("cohort:") else None


@dataclass(frozen=True)
class Communication:
    channel: str
    audience: str
    timing: str
    message: str
    adkar: str


@dataclass(frozen=True)
class Criterion:
    metric: str
    parameter: str
    threshold: float | None  # None for variant_decision, which has none
    line: int
    dataset: str | None = None  # the dataset of an eval_pass_rate criterion
    variant: str | None = None  # judged on this variant only (VARIANT_METRICS, variant_decision)


@dataclass(frozen=True)
class Guardrails:
    # The baseline rule always applies (app/services/rollout/guardrails.py). This optional absolute
    # limit adds a rule: trip when the error rate's whole 95 % interval over the last 7 days is
    # above it.
    max_error_rate: float | None = None
    # Trip when this week's error rate is at least this many times last week's, significantly.
    spike_factor: float | None = None
    # Fewer non-abandoned AI events than this in a week are too few to judge.
    min_events: int = 20
    action: str = "rollback"
    # Per variant: trip for a variant whose error rate is above the control's by more than this,
    # beyond the 95 % interval of the difference; its weight goes to 0 (app/services/rollout/
    # variant_guard.py). None: variants are not watched one by one.
    variant_max_error_rate_increase: float | None = None
    # The corrected and reviewed-wrong rates against the previous stage (app/services/rollout/
    # guardrails.py): "alert" announces, "rollback" rolls back; None leaves them unjudged.
    correction_rate: str | None = None


@dataclass(frozen=True)
class ReviewPlan:
    """How a stage's AI outputs are reviewed (app/services/review/): the sample size and the share
    of items a second reviewer labels too, so the reviewers' agreement can be measured."""

    sample_size: int = REVIEW_SAMPLE_SIZE
    second_share: float = REVIEW_SECOND_SHARE


@dataclass(frozen=True)
class PlaybookStage:
    name: str
    adkar: tuple[str, ...]
    trainings: tuple[Training, ...]
    communications: tuple[Communication, ...]
    feedback_cadence: str
    pulse_questions: tuple[str, ...]
    checklist: tuple[str, ...]
    gate: tuple[Criterion, ...]
    guardrails: Guardrails
    line: int
    review: ReviewPlan = field(default_factory=ReviewPlan)


@dataclass(frozen=True)
class Playbook:
    key: str
    name: str
    description: str
    path: str
    stages: tuple[PlaybookStage, ...] = field(default_factory=tuple)

    def stage(self, position: int) -> PlaybookStage:
        """The playbook stage for rollout stage ``position`` (1-based); later rollout stages reuse
        the playbook's last stage, so a long ramp can share one 'everyone' stage."""
        if position < 1:
            raise ValueError("rollout stages start at 1")
        return self.stages[min(position, len(self.stages)) - 1]

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "stages": [
                {
                    "name": s.name,
                    "adkar": list(s.adkar),
                    "trainings": [
                        {"title": t.title, "audience": t.audience, "format": t.format,
                         "duration_minutes": t.duration_minutes, "adkar": t.adkar}
                        for t in s.trainings
                    ],
                    "communications": [
                        {"channel": c.channel, "audience": c.audience, "timing": c.timing,
                         "message": c.message, "adkar": c.adkar}
                        for c in s.communications
                    ],
                    "feedback": {"cadence": s.feedback_cadence, "scale": [1, 5],
                                 "questions": list(s.pulse_questions)},
                    "checklist": list(s.checklist),
                    "gate": [{"metric": c.metric,
                              **({c.parameter: c.threshold} if c.metric != DECISION_METRIC else {}),
                              **({"dataset": c.dataset} if c.dataset else {}),
                              **({"variant": c.variant} if c.variant else {})} for c in s.gate],
                    "guardrails": {
                        "max_error_rate": s.guardrails.max_error_rate,
                        "spike_factor": s.guardrails.spike_factor,
                        "min_events": s.guardrails.min_events,
                        "action": s.guardrails.action,
                        "variant_max_error_rate_increase": s.guardrails.variant_max_error_rate_increase,
                        "correction_rate": s.guardrails.correction_rate,
                    },
                    "review": {"sample_size": s.review.sample_size,
                               "second_share": s.review.second_share},
                }
                for s in self.stages
            ],
        }

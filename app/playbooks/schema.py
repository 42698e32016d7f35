"""What a playbook may say, and the typed form a valid one is turned into."""

from __future__ import annotations

from dataclasses import dataclass, field

# The change model every playbook follows, in this order.
ADKAR = ("awareness", "desire", "knowledge", "ability", "reinforcement")
TRAINING_FORMATS = ("workshop", "webinar", "e-learning", "office-hours", "demo", "coaching")
CHANNELS = ("email", "intranet", "chat", "town-hall", "team-meeting", "newsletter")
CADENCES = ("daily", "weekly", "biweekly", "monthly")
GUARDRAIL_ACTIONS = ("rollback", "kill")

# Gate metric -> (its one parameter, lowest allowed value, highest allowed value, integer?).
GATE_METRICS: dict[str, tuple[str, float, float | None, bool]] = {
    "days_in_stage": ("min", 0, None, True),
    "exposed_users": ("min", 0, None, True),
    "adoption_rate": ("min", 0.0, 1.0, False),
    # Judged on the 95 % interval: fails only when the whole interval is above baseline + this.
    "error_rate": ("max_increase", 0.0, 1.0, False),
    "time_saved_hours": ("min", 0.0, None, False),
    "training_completion": ("min_pct", 0.0, 100.0, False),
    "feedback_mean": ("min", 1.0, 5.0, False),
    "open_critical_feedback": ("max", 0, None, True),
    # An evaluation run on the criterion's dataset: the lower bound of its 95 % interval >= this.
    "eval_pass_rate": ("min", 0.0, 1.0, False),
}
# Metrics that also name the dataset they are judged on (``dataset: KEY`` beside the threshold).
DATASET_METRICS = ("eval_pass_rate",)
CORRECTION_RATE_ACTIONS = ("alert", "rollback")


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
    threshold: float
    line: int
    dataset: str | None = None  # the dataset of an eval_pass_rate criterion


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
    # The corrected and reviewed-wrong rates against the previous stage (app/services/rollout/
    # guardrails.py): "alert" announces, "rollback" rolls back; None leaves them unjudged.
    correction_rate: str | None = None


@dataclass(frozen=True)
class ReviewPlan:
    """How a stage's AI outputs are reviewed (app/services/review/): the sample size and the share
    of items a second reviewer labels too, so the reviewers' agreement can be measured."""

    sample_size: int = 50
    second_share: float = 0.2


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
                    "gate": [{"metric": c.metric, c.parameter: c.threshold,
                              **({"dataset": c.dataset} if c.dataset else {})} for c in s.gate],
                    "guardrails": {
                        "max_error_rate": s.guardrails.max_error_rate,
                        "spike_factor": s.guardrails.spike_factor,
                        "min_events": s.guardrails.min_events,
                        "action": s.guardrails.action,
                        "correction_rate": s.guardrails.correction_rate,
                    },
                    "review": {"sample_size": s.review.sample_size,
                               "second_share": s.review.second_share},
                }
                for s in self.stages
            ],
        }

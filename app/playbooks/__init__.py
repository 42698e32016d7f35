"""Playbooks: YAML files in playbooks/ describing, stage by stage, how people are brought along."""

from app.playbooks.loader import load_all, load_each, load_playbook, playbook_dir, playbook_for
from app.playbooks.schema import (
    ADKAR,
    GATE_METRICS,
    Criterion,
    Guardrails,
    Playbook,
    PlaybookStage,
    Training,
)

__all__ = [
    "ADKAR",
    "GATE_METRICS",
    "Criterion",
    "Guardrails",
    "Playbook",
    "PlaybookStage",
    "Training",
    "load_all",
    "load_each",
    "load_playbook",
    "playbook_dir",
    "playbook_for",
]

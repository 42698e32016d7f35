"""Read and validate playbook files. Every problem names the file, the line and the field."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from app.errors import Collector, ValidationFailed
from app.playbooks.schema import (
    ADKAR,
    CADENCES,
    CHANNELS,
    CORRECTION_RATE_ACTIONS,
    DATASET_METRICS,
    GATE_METRICS,
    GUARDRAIL_ACTIONS,
    TRAINING_FORMATS,
    Communication,
    Criterion,
    Guardrails,
    Playbook,
    PlaybookStage,
    ReviewPlan,
    Training,
)

_MISSING = object()
STAGE_FIELDS = ("name", "adkar", "trainings", "communications", "feedback", "checklist", "gate",
                "guardrails")


def playbook_dir() -> Path:
    """Where the playbooks live: LIFTOFF_PLAYBOOK_DIR, else playbooks/ next to the app package."""
    env = os.environ.get("LIFTOFF_PLAYBOOK_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "playbooks"


class _Reader:
    """Walks the YAML node tree (which keeps line numbers) and collects every problem."""

    def __init__(self, name: str, loader: yaml.SafeLoader):
        self.name = name
        self.loader = loader
        self.problems = Collector()

    def fail(self, node: yaml.Node | None, field: str, message: str) -> None:
        line = f" line {node.start_mark.line + 1}" if node is not None else ""
        self.problems.add(field, f"{self.name}{line}: {message}")

    def mapping(self, node: yaml.Node, field: str, required: tuple[str, ...],
                optional: tuple[str, ...] = ()) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, field or "(top)", "must be a mapping")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            where = f"{field}.{key}" if field else key
            if key not in required and key not in optional:
                allowed = ", ".join(required + optional)
                self.fail(key_node, where, f"unknown field {key!r} (allowed: {allowed})")
            elif key in out:
                self.fail(key_node, where, "given twice")
            else:
                out[key] = value_node
        for key in required:
            if key not in out:
                self.fail(node, f"{field}.{key}" if field else key, "is required")
        return out

    def sequence(self, node: yaml.Node, field: str, allow_empty: bool = False) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, field, "must be a list")
            return []
        if not node.value and not allow_empty:
            self.fail(node, field, "must not be empty")
        return list(node.value)

    def scalar(self, node: yaml.Node, field: str):
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, field, "must be a single value")
            return _MISSING
        return self.loader.construct_object(node)

    def text(self, node: yaml.Node, field: str, choices: tuple[str, ...] | None = None) -> str:
        value = self.scalar(node, field)
        if value is _MISSING:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(node, field, "must be a non-empty text")
            return ""
        if choices is not None and value not in choices:
            self.fail(node, field, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def number(self, node: yaml.Node, field: str, low: float, high: float | None,
               integer: bool = False) -> float:
        value = self.scalar(node, field)
        if value is _MISSING:
            return 0
        kind = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind):
            self.fail(node, field, "must be a whole number" if integer else "must be a number")
            return 0
        if value < low or (high is not None and value > high):
            upper = f" and {high}" if high is not None else ""
            self.fail(node, field, f"{value} is out of range (between {low}{upper})")
        return value


def _adkar_list(r: _Reader, node: yaml.Node, field: str) -> tuple[str, ...]:
    phases = tuple(r.text(n, f"{field}[{i}]", ADKAR) for i, n in enumerate(r.sequence(node, field)))
    order = [ADKAR.index(p) for p in phases if p in ADKAR]
    if order != sorted(order):
        r.fail(node, field, f"phases must follow the ADKAR order {' -> '.join(ADKAR)}")
    return phases


def _training(r: _Reader, node: yaml.Node, field: str) -> Training | None:
    m = r.mapping(node, field, ("title", "audience", "format", "duration_minutes", "adkar"))
    if m is None or len(m) < 5:
        return None
    audience = r.text(m["audience"], f"{field}.audience")
    if audience and audience not in ("stage", "new") and not (
        audience.startswith("cohort:") and len(audience) > 7
    ):
        r.fail(m["audience"], f"{field}.audience", "must be 'stage', 'new' or 'cohort:<cohort key>'")
    return Training(
        title=r.text(m["title"], f"{field}.title"),
        audience=audience,
        format=r.text(m["format"], f"{field}.format", TRAINING_FORMATS),
        duration_minutes=int(r.number(m["duration_minutes"], f"{field}.duration_minutes", 1, 8 * 60,
                                      integer=True)),
        adkar=r.text(m["adkar"], f"{field}.adkar", ADKAR),
        line=node.start_mark.line + 1,
    )


def _communication(r: _Reader, node: yaml.Node, field: str) -> Communication | None:
    m = r.mapping(node, field, ("channel", "audience", "timing", "message", "adkar"))
    if m is None or len(m) < 5:
        return None
    return Communication(
        channel=r.text(m["channel"], f"{field}.channel", CHANNELS),
        audience=r.text(m["audience"], f"{field}.audience"),
        timing=r.text(m["timing"], f"{field}.timing"),
        message=r.text(m["message"], f"{field}.message"),
        adkar=r.text(m["adkar"], f"{field}.adkar", ADKAR),
    )


def _criterion(r: _Reader, node: yaml.Node, field: str) -> Criterion | None:
    if not isinstance(node, yaml.MappingNode):
        r.fail(node, field, "must be a mapping with 'metric' and its threshold")
        return None
    keys = {k.value: (k, v) for k, v in node.value}
    if "metric" not in keys:
        r.fail(node, f"{field}.metric", "is required")
        return None
    metric = r.text(keys["metric"][1], f"{field}.metric")
    if metric not in GATE_METRICS:
        r.fail(keys["metric"][1], f"{field}.metric",
               f"unknown metric {metric!r} (known: {', '.join(GATE_METRICS)})")
        return None
    parameter, low, high, integer = GATE_METRICS[metric]
    required = ("metric", parameter, "dataset") if metric in DATASET_METRICS else ("metric", parameter)
    m = r.mapping(node, field, required)
    if m is None or any(k not in m for k in required):
        return None
    threshold = r.number(m[parameter], f"{field}.{parameter}", low, high, integer)
    dataset = r.text(m["dataset"], f"{field}.dataset") if "dataset" in m else None
    return Criterion(metric, parameter, threshold, node.start_mark.line + 1, dataset)


def _guardrails(r: _Reader, node: yaml.Node, field: str) -> Guardrails:
    # Every guardrail judges the error rate against the baseline; these only add rules or tune.
    # ``error_rate_above`` is the older name of ``max_error_rate``, still read.
    m = r.mapping(node, field, ("action",),
                  ("max_error_rate", "error_rate_above", "spike_factor", "min_events", "correction_rate"))
    if m is None:
        return Guardrails()
    if "max_error_rate" in m and "error_rate_above" in m:
        r.fail(m["error_rate_above"], f"{field}.error_rate_above",
               "is the older name of max_error_rate: give only one")
    limit_name = "max_error_rate" if "max_error_rate" in m else "error_rate_above"
    return Guardrails(
        max_error_rate=(r.number(m[limit_name], f"{field}.{limit_name}", 0.0, 1.0)
                        if limit_name in m else None),
        spike_factor=(r.number(m["spike_factor"], f"{field}.spike_factor", 1.0, None)
                      if "spike_factor" in m else None),
        min_events=(int(r.number(m["min_events"], f"{field}.min_events", 1, None, integer=True))
                    if "min_events" in m else 20),
        action=r.text(m["action"], f"{field}.action", GUARDRAIL_ACTIONS) if "action" in m else "rollback",
        correction_rate=(r.text(m["correction_rate"], f"{field}.correction_rate", CORRECTION_RATE_ACTIONS)
                         if "correction_rate" in m else None),
    )


def _review(r: _Reader, node: yaml.Node, field: str) -> ReviewPlan:
    m = r.mapping(node, field, (), ("sample_size", "second_share"))
    if m is None:
        return ReviewPlan()
    default = ReviewPlan()
    return ReviewPlan(
        sample_size=(int(r.number(m["sample_size"], f"{field}.sample_size", 1, 10_000, integer=True))
                     if "sample_size" in m else default.sample_size),
        second_share=(float(r.number(m["second_share"], f"{field}.second_share", 0.0, 1.0))
                      if "second_share" in m else default.second_share),
    )


def _feedback(r: _Reader, node: yaml.Node, field: str) -> tuple[str, tuple[str, ...]]:
    m = r.mapping(node, field, ("cadence", "scale", "questions"))
    if m is None or len(m) < 3:
        return "", ()
    scale = r.scalar(m["scale"], f"{field}.scale") if isinstance(m["scale"], yaml.ScalarNode) else None
    bounds = [r.scalar(n, f"{field}.scale") for n in r.sequence(m["scale"], f"{field}.scale")] \
        if scale is None else []
    if bounds != [1, 5]:
        r.fail(m["scale"], f"{field}.scale", "the pulse survey scale is [1, 5]")
    questions = tuple(r.text(n, f"{field}.questions[{i}]")
                      for i, n in enumerate(r.sequence(m["questions"], f"{field}.questions")))
    return r.text(m["cadence"], f"{field}.cadence", CADENCES), questions


def _stage(r: _Reader, node: yaml.Node, field: str) -> PlaybookStage | None:
    m = r.mapping(node, field, STAGE_FIELDS, ("review",))
    if m is None:
        return None
    # Validate every field that is there, so one run reports all problems of the stage.
    empty = yaml.SequenceNode("tag:yaml.org,2002:seq", [])

    def items(name: str) -> list[yaml.Node]:
        return r.sequence(m[name], f"{field}.{name}") if name in m else []

    trainings = [_training(r, n, f"{field}.trainings[{i}]") for i, n in enumerate(items("trainings"))]
    comms = [_communication(r, n, f"{field}.communications[{i}]")
             for i, n in enumerate(items("communications"))]
    gate = [_criterion(r, n, f"{field}.gate[{i}]") for i, n in enumerate(items("gate"))]
    seen: set[tuple[str, str | None]] = set()
    for criterion in gate:
        if criterion is not None:
            # An evaluation criterion may appear once per dataset.
            if (criterion.metric, criterion.dataset) in seen:
                r.fail(m["gate"], f"{field}.gate", f"metric {criterion.metric!r} given twice")
            seen.add((criterion.metric, criterion.dataset))
    cadence, questions = _feedback(r, m["feedback"], f"{field}.feedback") if "feedback" in m else ("", ())
    checklist = tuple(r.text(n, f"{field}.checklist[{i}]") for i, n in enumerate(items("checklist")))
    name = r.text(m["name"], f"{field}.name") if "name" in m else ""
    adkar = _adkar_list(r, m.get("adkar", empty), f"{field}.adkar") if "adkar" in m else ()
    guardrails = _guardrails(r, m["guardrails"], f"{field}.guardrails") if "guardrails" in m else None
    review = _review(r, m["review"], f"{field}.review") if "review" in m else ReviewPlan()
    if any(name not in m for name in STAGE_FIELDS) or guardrails is None:
        return None
    return PlaybookStage(
        name=name,
        adkar=adkar,
        trainings=tuple(t for t in trainings if t is not None),
        communications=tuple(c for c in comms if c is not None),
        feedback_cadence=cadence,
        pulse_questions=questions,
        checklist=checklist,
        gate=tuple(c for c in gate if c is not None),
        guardrails=guardrails,
        line=node.start_mark.line + 1,
        review=review,
    )


def parse_playbook(text: str, name: str) -> Playbook:
    """Validate a playbook's YAML text; ``name`` is the file name used in error messages.

    :raises ValidationFailed: listing every problem with its file, line and field.
    """
    loader = None
    try:
        try:
            # The reader already refuses control characters here, so construct inside the try.
            loader = yaml.SafeLoader(text)
            root = loader.get_single_node()
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise ValidationFailed(f"invalid playbook {name}",
                                   [_detail("(yaml)", f"{name}{line}: not valid YAML: {problem}")]
                                   ) from error
        if root is None:
            raise ValidationFailed(f"invalid playbook {name}", [_detail("(top)", f"{name}: empty file")])
        r = _Reader(name, loader)
        m = r.mapping(root, "", ("key", "name", "description", "stages"))
        playbook = None
        if m is not None and len(m) == 4:
            stages = [_stage(r, n, f"stages[{i}]")
                      for i, n in enumerate(r.sequence(m["stages"], "stages"))]
            good = [s for s in stages if s is not None]
            covered = {p for s in good for p in s.adkar}
            if good and len(good) == len(stages):
                firsts = [ADKAR.index(s.adkar[0]) for s in good if s.adkar and s.adkar[0] in ADKAR]
                if firsts != sorted(firsts):
                    r.fail(m["stages"], "stages", "stages must follow the ADKAR order")
                missing = [p for p in ADKAR if p not in covered]
                if missing:
                    r.fail(m["stages"], "stages", f"ADKAR phases never addressed: {', '.join(missing)}")
            key = r.text(m["key"], "key")
            if key and Path(name).stem != key:
                r.fail(m["key"], "key", f"must match the file name ({Path(name).stem!r})")
            playbook = Playbook(key=key, name=r.text(m["name"], "name"),
                                description=r.text(m["description"], "description"),
                                path=name, stages=tuple(good))
        r.problems.raise_if_any(f"invalid playbook {name}")
        assert playbook is not None
        return playbook
    finally:
        if loader is not None:
            loader.dispose()


def _detail(field: str, message: str):
    from app.errors import Detail

    return Detail(field, message)


def load_playbook(path: Path | str) -> Playbook:
    """Read and validate one playbook file."""
    path = Path(path)
    return parse_playbook(path.read_text(encoding="utf-8"), path.name)


def load_all(directory: Path | None = None) -> dict[str, Playbook]:
    """Every playbook of the directory by key; any invalid file fails the whole load."""
    directory = directory or playbook_dir()
    return {pb.key: pb for pb in (load_playbook(p) for p in sorted(directory.glob("*.yaml")))}


def load_each(directory: Path | None = None) -> tuple[dict[str, Playbook], dict[str, ValidationFailed]]:
    """Every valid playbook by key, and each invalid file's error by file name: one broken file
    must not hide the others from a listing."""
    directory = directory or playbook_dir()
    valid: dict[str, Playbook] = {}
    invalid: dict[str, ValidationFailed] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            playbook = load_playbook(path)
        except ValidationFailed as error:
            invalid[path.name] = error
        except (OSError, UnicodeDecodeError) as error:
            invalid[path.name] = ValidationFailed(f"unreadable playbook {path.name}",
                                                  [_detail("(file)", str(error))])
        else:
            valid[playbook.key] = playbook
    return valid, invalid


def playbook_for(key: str, directory: Path | None = None) -> Playbook:
    """The playbook with this key (file ``<key>.yaml``), validated.

    :raises ValidationFailed: when no such file exists or it is invalid.
    """
    directory = directory or playbook_dir()
    path = directory / f"{key}.yaml"
    if not key or "/" in key or "\\" in key or key.startswith(".") or not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise ValidationFailed("unknown playbook",
                               [_detail("playbook", f"no playbook {key!r} (known: {known})")])
    return load_playbook(path)

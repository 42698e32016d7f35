"""Read and validate playbook files. Every problem names the file, the line and the field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.errors import Collector, ValidationFailed
from app.playbooks.schema import (
    DECISION_METRIC,
    GATE_METRICS,
    Communication,
    Criterion,
    Guardrails,
    Playbook,
    PlaybookStage,
    ReviewPlan,
    Training,
)
from app.schemas.common import field_path
from app.schemas.playbooks import CRITERIA, PlaybookFile


def playbook_dir() -> Path:
    """Where the playbooks live: LIFTOFF_PLAYBOOK_DIR, else playbooks/ next to the app package."""
    env = os.environ.get("LIFTOFF_PLAYBOOK_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "playbooks"


Path_ = tuple[str | int, ...]


class _Document:
    """A playbook's YAML as plain data, with the line of every value and of every mapping key,
    so a schema error can name the line to fix; a key given twice is a problem of its own."""

    def __init__(self, name: str, loader: yaml.SafeLoader, root: yaml.Node):
        self.name = name
        self.loader = loader
        self.lines: dict[Path_, int] = {}
        self.key_lines: dict[Path_, int] = {}
        self.problems = Collector()
        self.data = self._plain(root, ())

    def fail(self, path: Path_, message: str, key: bool = False) -> None:
        self.problems.add(field_path(path, "(top)"), f"{self.name} line {self.line(path, key)}: {message}")

    def line(self, path: Path_, key: bool = False) -> int:
        if key and path in self.key_lines:
            return self.key_lines[path]
        while path not in self.lines:
            path = path[:-1]
        return self.lines[path]

    def _plain(self, node: yaml.Node, path: Path_):
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                key = key_node.value
                self.key_lines[(*path, key)] = key_node.start_mark.line + 1
                if key in out:
                    self.fail((*path, key), "given twice", key=True)
                    continue
                out[key] = self._plain(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._plain(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def _model_at(loc: Path_) -> type[BaseModel] | None:
    """The model that declares the fields at ``loc`` (gate items by their metric's tag)."""
    model: type[BaseModel] = PlaybookFile
    for part in loc:
        if isinstance(part, int):
            continue
        if part in CRITERIA:
            model = CRITERIA[part]
            continue
        field = model.model_fields.get(part)
        found = _first_model(field.annotation) if field is not None else None
        if found is None:
            return None
        model = found
    return model


def _first_model(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _report(doc: _Document, error: ErrorDetails) -> None:
    """One pydantic error as the loader words it: the field's path, its line, the problem."""
    loc = error["loc"]
    # The tag of a gate item's model is not a field of the file.
    path = tuple(p for i, p in enumerate(loc) if not (p in CRITERIA and i and isinstance(loc[i - 1], int)))
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model is not None else ""
        doc.fail(path, f"unknown field {path[-1]!r} (allowed: {allowed})", key=True)
    elif kind in ("union_tag_not_found", "union_tag_invalid"):
        item = error.get("input")
        if not isinstance(item, dict):
            doc.fail(path, "must be a mapping with 'metric' and its threshold")
        elif "metric" not in item:
            doc.fail((*path, "metric"), "is required")
        else:
            doc.fail((*path, "metric"),
                     f"unknown metric {item['metric']!r} (known: {', '.join(CRITERIA)})")
    elif kind == "missing":
        doc.fail(path, "is required")
    elif kind in ("model_type", "dict_type"):
        doc.fail(path, "must be a mapping")
    elif kind == "list_type":
        doc.fail(path, "must be a list")
    else:
        doc.fail(path, error["ctx"]["message"] if kind == "liftoff" else error["msg"])


def _criterion(c, line: int) -> Criterion:
    if c.metric == DECISION_METRIC:  # no threshold: the decision rule says what wins
        return Criterion(c.metric, "rule", None, line, variant=c.variant)
    parameter = GATE_METRICS[c.metric][0]
    return Criterion(c.metric, parameter, getattr(c, parameter), line, getattr(c, "dataset", None),
                     getattr(c, "variant", None))


def _playbook(model: PlaybookFile, doc: _Document, name: str) -> Playbook:
    def stage(i: int, s) -> PlaybookStage:
        g = s.guardrails
        return PlaybookStage(
            name=s.name, adkar=tuple(s.adkar),
            trainings=tuple(Training(t.title, t.audience, t.format, t.duration_minutes, t.adkar,
                                     doc.line(("stages", i, "trainings", j)))
                            for j, t in enumerate(s.trainings)),
            communications=tuple(Communication(c.channel, c.audience, c.timing, c.message, c.adkar)
                                 for c in s.communications),
            feedback_cadence=s.feedback.cadence, pulse_questions=tuple(s.feedback.questions),
            checklist=tuple(s.checklist),
            gate=tuple(_criterion(c, doc.line(("stages", i, "gate", j))) for j, c in enumerate(s.gate)),
            guardrails=Guardrails(
                max_error_rate=g.max_error_rate if g.max_error_rate is not None else g.error_rate_above,
                spike_factor=g.spike_factor, min_events=g.min_events, action=g.action,
                variant_max_error_rate_increase=g.variant_max_error_rate_increase,
                correction_rate=g.correction_rate),
            line=doc.line(("stages", i)),
            review=(ReviewPlan(s.review.sample_size, float(s.review.second_share))
                    if s.review is not None else ReviewPlan()),
        )
    return Playbook(key=model.key, name=model.name, description=model.description, path=name,
                    stages=tuple(stage(i, s) for i, s in enumerate(model.stages)))


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
        doc = _Document(name, loader, root)
        if not isinstance(doc.data, dict):
            doc.fail((), "must be a mapping")
            doc.problems.raise_if_any(f"invalid playbook {name}")
        try:
            model = PlaybookFile.model_validate(doc.data)
        except ValidationError as error:
            model = None
            for problem in error.errors(include_url=False):
                _report(doc, problem)
        if model is not None and Path(name).stem != model.key:
            doc.fail(("key",), f"must match the file name ({Path(name).stem!r})")
        doc.problems.raise_if_any(f"invalid playbook {name}")
        if model is None:  # not reached: a failed validation leaves its problems
            raise ValidationFailed(f"invalid playbook {name}")
        return _playbook(model, doc, name)
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

"""Connector documents: YAML files in the connectors folder (so they live in git) or the same
document stored in the app. Every document is checked against one schema; an error names the file
and the field (``connectors/helpdesk.yaml: source.url: required``)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import select

from app.db import db
from app.errors import Collector, Detail, NotFound, ValidationFailed
from app.models.scheduling import ConnectorDefinition
from app.schemas.common import validate
from app.schemas.connectors import (  # noqa: F401 (EVERY, KINDS, NAME, check_schedule: re-exported)
    EVERY,
    KINDS,
    NAME,
    PAGINATION,
    SOURCES,
    TARGETS,
    ConnectorDocument,
    check_schedule,
)


@dataclass(frozen=True)
class ConnectorConfig:
    name: str
    kind: str
    schedule: str
    target: str
    source: dict
    mapping: dict = field(default_factory=dict)
    feature: str | None = None
    description: str | None = None
    enabled: bool = True
    origin: str = "app"  # the YAML file it came from, or "app"


def connectors_dir() -> Path:
    configured = current_app.config.get("CONNECTORS_DIR") or os.environ.get("LIFTOFF_CONNECTORS_DIR")
    return Path(configured) if configured else Path.cwd() / "connectors"


_MISSING = {"name": "required: lower-case letters, digits, '-' or '_'",
            "kind": f"required, one of {', '.join(KINDS)}", "schedule": check_schedule(None),
            "target": f"required, one of {', '.join(TARGETS)}", "source": "required: a mapping"}


def parse(document: object, origin: str) -> ConnectorConfig:
    """Check a connector document against its schema (app/schemas/connectors.py); raise one error
    listing every bad field."""
    from app.connectors.mapping import check_mapping

    problems = Collector()
    if not isinstance(document, dict):
        raise ValidationFailed(f"{origin}: a connector document must be a mapping")
    document = {str(k): v for k, v in document.items()}  # YAML keys may be numbers
    top = validate(ConnectorDocument, document, problems)
    for detail in problems.details:  # a connector file's own wording for what is missing
        if detail.message == "is required":
            detail.message = _MISSING.get(detail.field or "") or "required"
    kind = document.get("kind") if isinstance(document.get("kind"), str) else None
    target = top.target if top is not None else None
    if top is not None and kind == "unleash_metrics" and target != "flag_metrics":
        problems.add("target", "an unleash_metrics connector writes flag_metrics")
    source = document.get("source")
    if kind in SOURCES and isinstance(source, dict):
        found = Collector()
        validate(SOURCES[kind], source, found)
        problems.details += [Detail(f"source.{d.field}", d.message, d.index) for d in found.details]
        _check_source(kind, source, problems)
    if kind != "unleash_metrics" and (target or document.get("target")) in TARGETS:
        check_mapping(target or document["target"], document.get("mapping", {}), problems)
    if problems.details:
        raise ValidationFailed(f"{origin}: invalid connector", problems.details)
    # Past the raise the document parsed and its source is a mapping (the model requires one).
    assert top is not None and isinstance(source, dict)
    return ConnectorConfig(
        name=top.name, kind=top.kind, schedule=top.schedule, target=top.target, source=source,
        mapping=top.mapping or {}, feature=top.feature, description=top.description,
        enabled=top.enabled, origin=origin,
    )


def _check_source(kind: str, source: dict, problems: Collector) -> None:
    """The rules across a source's fields (judged on the document as written, so they are
    reported together with the fields' own problems)."""
    if kind == "sql" and not source.get("url") and not source.get("url_env"):
        problems.add("source.url", "required (or source.url_env naming the variable that holds it)")
    pagination = source.get("pagination")
    if kind == "http" and isinstance(pagination, dict):
        style = pagination.get("style")
        if not isinstance(style, str) or style not in PAGINATION:
            problems.add("source.pagination.style", f"one of {', '.join(PAGINATION)}")
        else:
            allowed = {"style", *PAGINATION[style]}
            for key in sorted(str(k) for k in set(pagination) - allowed):
                problems.add(f"source.pagination.{key}", f"unknown for style {style}")


class YamlLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read the flag_metrics fields ``yes:`` and
    ``no:`` (and a country code NO) as booleans."""


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(text: str) -> object:
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - a SafeLoader subclass


def load_file(path: Path) -> ConnectorConfig:
    try:
        document = read_yaml(path.read_text())
    except yaml.YAMLError as error:
        raise ValidationFailed(f"{path}: not valid YAML: {error}") from error
    return parse(document, str(path))


def yaml_connectors() -> list[ConnectorConfig]:
    folder = connectors_dir()
    if not folder.is_dir():
        return []
    return [load_file(p) for p in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])]


def app_connectors() -> list[ConnectorConfig]:
    rows = db.session.scalars(select(ConnectorDefinition).order_by(ConnectorDefinition.name))
    return [
        parse({**json.loads(row.document), "enabled": row.enabled}, f"connector {row.name} (app)")
        for row in rows
    ]


def all_connectors() -> list[ConnectorConfig]:
    """Every connector, YAML first; the same name in two places is an error naming both."""
    found: dict[str, ConnectorConfig] = {}
    for config in [*yaml_connectors(), *app_connectors()]:
        if config.name in found:
            raise ValidationFailed(
                f"connector {config.name!r} is defined twice: {found[config.name].origin} and {config.origin}"
            )
        found[config.name] = config
    return list(found.values())


def get_connector(name: str) -> ConnectorConfig:
    for config in all_connectors():
        if config.name == name:
            return config
    raise NotFound(f"no connector named {name!r}")


def save_connector(document: dict) -> ConnectorDefinition:
    """Store (or replace) a connector configured in the app; never commits.

    :param document: the same mapping a YAML file holds.
    """
    config = parse(document, f"connector {document.get('name')!r}")
    row = db.session.scalar(select(ConnectorDefinition).where(ConnectorDefinition.name == config.name))
    if row is None:
        row = ConnectorDefinition(name=config.name, document="{}")
        db.session.add(row)
    row.document = json.dumps({k: v for k, v in document.items() if k != "enabled"})
    row.enabled = config.enabled
    db.session.flush()
    return row

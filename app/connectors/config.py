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
from app.errors import Collector, NotFound, ValidationFailed
from app.models.scheduling import ConnectorDefinition

KINDS = ("sql", "files", "http", "unleash_metrics")
TARGETS = ("events", "baselines", "flag_metrics")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
EVERY = re.compile(r"^every\s+(\d+)\s*([smh])$")

# kind -> {field: (required, python type)}
SOURCE_FIELDS: dict[str, dict[str, tuple[bool, type | tuple[type, ...]]]] = {
    "sql": {"url": (False, str), "url_env": (False, str), "query": (True, str),
            "watermark_column": (False, str), "assume_utc": (False, bool)},
    "files": {"folder": (True, str), "formats": (False, list), "sheet": (False, (str, int)),
              "delimiter": (False, str), "assume_utc": (False, bool)},
    "http": {"url": (True, str), "headers": (False, dict), "auth_header": (False, str),
             "auth_env": (False, str), "auth_prefix": (False, str), "records_path": (False, str),
             "pagination": (False, dict), "timeout_seconds": (False, (int, float)),
             "max_pages": (False, int), "assume_utc": (False, bool), "allow_link_local": (False, bool)},
    "unleash_metrics": {"url": (True, str), "token_env": (False, str), "features": (False, list),
                        "hours_back": (False, int), "timeout_seconds": (False, (int, float)),
                        "allow_link_local": (False, bool)},
}
PAGINATION = {"page": ("param", "start", "size_param", "size"), "cursor": ("param", "cursor_path"),
              "next_url": ("next_path",)}


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


def check_schedule(schedule: object) -> str | None:
    """None when ``schedule`` is a valid crontab or ``every N[s|m|h]``, else the reason."""
    if not isinstance(schedule, str) or not schedule.strip():
        return "required: a 5-field crontab (UTC) or 'every 30s' / 'every 5m' / 'every 1h'"
    if EVERY.match(schedule.strip()):
        return None
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(schedule, timezone="UTC")
    except ValueError as error:
        return f"not a valid crontab or 'every N[smh]': {error}"
    return None


def parse(document: object, origin: str) -> ConnectorConfig:
    """Check a connector document against the schema; raise one error listing every bad field."""
    from app.connectors.mapping import check_mapping

    problems = Collector()
    if not isinstance(document, dict):
        raise ValidationFailed(f"{origin}: a connector document must be a mapping")
    known = {"name", "kind", "schedule", "target", "source", "mapping", "feature", "description",
             "enabled"}
    for key in sorted(str(k) for k in set(document) - known):  # YAML keys may be numbers
        problems.add(key, f"unknown field (allowed: {', '.join(sorted(known))})")
    name, kind = document.get("name"), document.get("kind")
    kind = kind if isinstance(kind, str) else None  # a list here is unhashable (found by fuzzing)
    if not isinstance(name, str) or not NAME.match(name):
        problems.add("name", "required: lower-case letters, digits, '-' or '_'")
    if kind not in KINDS:
        problems.add("kind", f"required, one of {', '.join(KINDS)}")
    if reason := check_schedule(document.get("schedule")):
        problems.add("schedule", reason)
    target = document.get("target", "flag_metrics" if kind == "unleash_metrics" else None)
    target = target if isinstance(target, str) else None
    if target not in TARGETS:
        problems.add("target", f"required, one of {', '.join(TARGETS)}")
    elif kind == "unleash_metrics" and target != "flag_metrics":
        problems.add("target", "an unleash_metrics connector writes flag_metrics")
    for key, kinds in (("feature", str), ("description", str), ("enabled", bool)):
        if key in document and not isinstance(document[key], kinds):
            problems.add(key, f"must be a {kinds.__name__}")
    source = document.get("source")
    if not isinstance(source, dict):
        problems.add("source", "required: a mapping")
        source = {}
    elif kind in SOURCE_FIELDS:
        _check_source(kind, source, problems)
    mapping = document.get("mapping", {})
    if kind != "unleash_metrics" and target in TARGETS:
        check_mapping(target, mapping, problems)
    if problems.details:
        raise ValidationFailed(f"{origin}: invalid connector", problems.details)
    return ConnectorConfig(
        name=name, kind=kind, schedule=document["schedule"].strip(), target=target, source=source,
        mapping=mapping or {}, feature=document.get("feature"), description=document.get("description"),
        enabled=document.get("enabled", True), origin=origin,
    )


def _check_source(kind: str, source: dict, problems: Collector) -> None:
    fields = SOURCE_FIELDS[kind]
    for key in sorted(set(source) - set(fields)):
        problems.add(f"source.{key}", f"unknown field (allowed: {', '.join(sorted(fields))})")
    for key, (required, types) in fields.items():
        if key not in source:
            if required:
                problems.add(f"source.{key}", "required")
        elif not isinstance(source[key], types) or isinstance(source[key], bool) != (types is bool):
            wanted = types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)
            problems.add(f"source.{key}", f"must be a {wanted}")
    if kind == "sql":
        if not source.get("url") and not source.get("url_env"):
            problems.add("source.url", "required (or source.url_env naming the variable that holds it)")
        query = str(source.get("query", "")).lstrip().lower()
        if query and not query.startswith(("select", "with")):
            problems.add("source.query", "must be a read-only SELECT (or WITH ... SELECT)")
    if kind == "files":
        for fmt in source.get("formats") or []:
            if fmt not in ("csv", "xlsx"):
                problems.add("source.formats", f"unknown format {fmt!r} (csv, xlsx)")
    if kind in ("http", "unleash_metrics") and isinstance(source.get("url"), str):
        if not source["url"].lower().startswith(("http://", "https://")):
            problems.add("source.url", "must be an http:// or https:// URL")
    if kind == "http" and isinstance(source.get("pagination"), dict):
        style = source["pagination"].get("style")
        if style not in PAGINATION:
            problems.add("source.pagination.style", f"one of {', '.join(PAGINATION)}")
        else:
            allowed = {"style", *PAGINATION[style]}
            for key in sorted(set(source["pagination"]) - allowed):
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

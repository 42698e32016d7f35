"""Connector documents (``connectors/*.yaml`` or stored in the app): the top level, and the
``source`` of each kind. The ``mapping`` (source columns to a target's fields) is checked by
``app.connectors.mapping.check_mapping``, which knows the targets' fields."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from app.schemas.common import Body, Flag, problem

KINDS = ("sql", "files", "http", "unleash_metrics")
TARGETS = ("events", "baselines", "flag_metrics")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
EVERY = re.compile(r"^every\s+(\d+)\s*([smh])$")
PAGINATION = {"page": ("param", "start", "size_param", "size"), "cursor": ("param", "cursor_path"),
              "next_url": ("next_path",)}


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


def _schedule(value: Any) -> Any:
    if reason := check_schedule(value):
        raise problem(reason)
    return value.strip()


def _name(value: Any) -> Any:
    if not isinstance(value, str) or not NAME.match(value):
        raise problem("required: lower-case letters, digits, '-' or '_'")
    return value


def _one_of(values: tuple[str, ...]):
    def check(value: Any) -> Any:
        if value not in values:
            raise problem(f"required, one of {', '.join(values)}")
        return value
    return check


class ConnectorDocument(Body):
    """The top level of a connector document; ``source`` is checked by its kind's model."""

    name: Annotated[str, Field(pattern=NAME.pattern), BeforeValidator(_name)]
    kind: Annotated[Literal[KINDS], BeforeValidator(_one_of(KINDS))]
    schedule: Annotated[str, BeforeValidator(_schedule)]
    """A 5-field crontab (UTC) or ``every 30s`` / ``every 5m`` / ``every 1h``."""
    target: Annotated[Literal[TARGETS], BeforeValidator(_one_of(TARGETS))]
    """Default ``flag_metrics`` for an ``unleash_metrics`` connector."""
    source: dict
    mapping: dict | None = None
    feature: str | None = None
    description: str | None = None
    enabled: Flag = True

    @model_validator(mode="before")
    @classmethod
    def _metrics_target(cls, document: Any) -> Any:
        if isinstance(document, dict) and document.get("kind") == "unleash_metrics":
            return {"target": "flag_metrics", **document}
        return document


def _sheet(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise problem("must be a sheet name or number")
    return value


def _url(value: Any) -> Any:
    if isinstance(value, str) and not value.lower().startswith(("http://", "https://")):
        raise problem("must be an http:// or https:// URL")
    return value


def _read_only(value: Any) -> Any:
    if isinstance(value, str) and value.strip() and \
            not value.lstrip().lower().startswith(("select", "with")):
        raise problem("must be a read-only SELECT (or WITH ... SELECT)")
    return value


Url = Annotated[str, BeforeValidator(_url)]
Seconds = Annotated[float, Field(gt=0)]


class SqlSource(Body):
    """Rows of a read-only query; ``watermark_column`` makes pulls incremental."""

    url: str | None = None
    url_env: str | None = None
    """The environment variable holding the URL (keeps credentials out of the file)."""
    query: Annotated[str, BeforeValidator(_read_only)]
    watermark_column: str | None = None
    assume_utc: Flag = False


class FilesSource(Body):
    """CSV or Excel files dropped into a folder."""

    folder: str
    formats: list[Literal["csv", "xlsx"]] | None = None
    sheet: Annotated[Any, BeforeValidator(_sheet),
                     WithJsonSchema({"type": ["string", "integer"]})] = None
    delimiter: str | None = None
    assume_utc: Flag = False


class HttpSource(Body):
    """A JSON endpoint, paged by ``pagination`` (style page, cursor or next_url)."""

    url: Url
    headers: dict | None = None
    auth_header: str | None = None
    auth_env: str | None = None
    auth_prefix: str | None = None
    records_path: str | None = None
    pagination: dict | None = None
    timeout_seconds: Seconds | None = None
    max_pages: int | None = None
    assume_utc: Flag = False
    allow_link_local: Flag = False


class UnleashMetricsSource(Body):
    """The metrics of a real Unleash server."""

    url: Url
    token_env: str | None = None
    features: list[str] | None = None
    hours_back: int | None = None
    timeout_seconds: Seconds | None = None
    allow_link_local: Flag = False


SOURCES: dict[str, type[Body]] = {"sql": SqlSource, "files": FilesSource, "http": HttpSource,
                                  "unleash_metrics": UnleashMetricsSource}

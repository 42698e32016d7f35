"""From source records to target rows: the mapping (target field -> source column or constant) and
the schema every mapped row must satisfy. A bad value fails the whole read, naming the row and the
source column; a source that lost a mapped column fails naming that column.

Messages name the row, the column and what was expected, never the value found: they are stored
as the run's error and beside refused files, and a source's content is not ours to repeat."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app import plausible
from app.errors import Collector
from app.models import OUTCOMES  # the outcomes an event may have: one list, the model's

MISSING = object()


class BadValue(ValueError):
    pass


def _text(value: Any, limit: int = 200) -> str:
    if isinstance(value, bool):
        raise BadValue("expected text, not a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets hand ids back as 42.0
    if isinstance(value, (int, str)):
        text = str(value).strip()
        problem = plausible.text_problem(text)
        if problem:  # PostgreSQL holds no NUL, UTF-8 no lone surrogate: a bad value, not a crash
            raise BadValue(f"the text {problem}")
        if len(text) > limit:
            raise BadValue(f"expected at most {limit} characters, got {len(text)}")
        if text:
            return text
    raise BadValue("expected non-empty text")


def _environment(value: Any) -> str:
    return _text(value, 40)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise BadValue("expected a number, not a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadValue("expected a number") from None
    if math.isnan(number) or math.isinf(number):
        raise BadValue("expected a finite number")
    return number


def _count(value: Any) -> int:
    number = _number(value)
    if not number.is_integer() or number < 0:
        raise BadValue("expected a whole number >= 0")
    if number > plausible.MAX_INT:
        raise BadValue(f"must be at most {plausible.MAX_INT}")
    return int(number)


def _non_negative(value: Any, high: float = math.inf, unit: str = "") -> float:
    number = _number(value)
    if number < 0:
        raise BadValue("must be >= 0")
    if number > high:
        raise BadValue(f"must be at most {plausible.figure(high)}{unit}")
    return number


def _duration(value: Any) -> float:
    return _non_negative(value, plausible.MAX_DURATION_SECONDS, " seconds")


def _minutes(value: Any) -> float:
    return _non_negative(value, plausible.MAX_MINUTES, " minutes")


def _rate(value: Any) -> float:
    number = _number(value)
    if not 0 <= number <= 1:
        raise BadValue("must be between 0 and 1")
    return number


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "y", "t"):
        return True
    if text in ("false", "no", "0", "n", "f"):
        return False
    raise BadValue("expected true/false (yes/no, 1/0)")


def _outcome(value: Any) -> str:
    text = _text(value).lower()
    if text not in OUTCOMES:
        raise BadValue(f"expected one of {', '.join(OUTCOMES)}")
    return text


def timestamp(value: Any, assume_utc: bool) -> datetime:
    """An aware UTC datetime; naive values only when the source says they are UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadValue("expected an ISO 8601 timestamp") from None
    else:
        raise BadValue("expected a timestamp")
    if hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    if moment.tzinfo is None:
        if not assume_utc:
            raise BadValue("the timestamp has no UTC offset (set source.assume_utc: true "
                           "if the source stores UTC)")
        moment = moment.replace(tzinfo=UTC)
    problems = Collector()
    utc = plausible.not_in_future(plausible.to_utc(moment, "", None, problems), "", None, problems)
    if utc is None:
        raise BadValue(f"the timestamp {problems.details[0].message}")
    return utc


@dataclass(frozen=True)
class Field:
    required: bool
    convert: Callable[[Any], Any] | None  # None: a timestamp
    default: Any = None


SCHEMAS: dict[str, dict[str, Field]] = {
    "events": {
        "event_id": Field(True, _text), "feature": Field(True, _text), "person_id": Field(True, _text),
        "occurred_at": Field(True, None), "task": Field(False, _text, "default"),
        "ai_assisted": Field(True, _flag), "duration_seconds": Field(False, _duration),
        "outcome": Field(True, _outcome),
    },
    "baselines": {
        "feature": Field(True, _text), "task": Field(False, _text, "default"),
        "minutes_per_task": Field(False, _minutes), "error_rate": Field(False, _rate),
        "measured_at": Field(True, None),
    },
    "flag_metrics": {
        "feature": Field(True, _text), "app_name": Field(True, _text),
        "environment": Field(False, _environment, "production"), "hour": Field(True, None),
        "yes": Field(True, _count), "no": Field(True, _count),
    },
}


def check_mapping(target: str, mapping: object, problems: Collector) -> None:
    """Config-time check: every required target field mapped, nothing unknown."""
    if not isinstance(mapping, dict):
        problems.add("mapping", "must map target fields to source columns")
        return
    schema = SCHEMAS[target]
    for key in sorted(str(k) for k in set(mapping) - set(schema)):  # YAML keys may be numbers
        problems.add(f"mapping.{key}", f"not a field of {target} ({', '.join(schema)})")
    for key, spec in schema.items():
        rule = mapping.get(key, MISSING)
        if rule is MISSING:
            if spec.required:
                problems.add(f"mapping.{key}", f"required for {target}: a column name or {{value: ...}}")
        elif not (isinstance(rule, str) and rule) and not (isinstance(rule, dict) and set(rule) == {"value"}):
            problems.add(f"mapping.{key}", "a source column name, or {value: <constant>}")


def _lookup(record: dict, column: str) -> Any:
    # Dotted names reach into nested JSON records ("agent.id"); a real key with a dot wins.
    if column in record:
        return record[column]
    value: Any = record
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip()
    ) or type(value).__name__ in ("NaTType", "NAType")


def map_records(target: str, mapping: dict, records: Iterable[tuple[str, dict]], *, assume_utc: bool,
                first_index: int = 0) -> list[dict]:
    """Map and validate every record; raise one error listing every bad row and column.

    :param records: (where, record) pairs; ``where`` locates the row for people ("file.csv line 7").
    :param first_index: the running row number of the first record (the error's ``index``).
    """
    schema = SCHEMAS[target]
    problems = Collector()
    rows = []
    for offset, (where, record) in enumerate(records):
        index = first_index + offset
        row: dict[str, Any] = {}
        for key, spec in schema.items():
            rule = mapping.get(key, MISSING)
            if rule is MISSING:
                row[key] = spec.default
                continue
            if isinstance(rule, dict):
                column, value = f"{{value}} for {key}", rule["value"]
            else:
                column, value = rule, _lookup(record, rule)
                if value is MISSING:
                    problems.add(column, f"{where}: column {column!r} (-> {key}) is missing", index)
                    continue
            if _blank(value):
                if spec.required:
                    problems.add(column, f"{where}: {key} is required but empty", index)
                row[key] = spec.default
                continue
            try:
                row[key] = timestamp(value, assume_utc) if spec.convert is None else spec.convert(value)
            except BadValue as error:
                problems.add(column, f"{where}: {key}: {error}", index)
        rows.append(row)
    problems.raise_if_any(f"{len({d.index for d in problems.details})} bad row(s) from the source")
    return rows


def check_columns(mapping: dict, columns: Iterable[str], where: str) -> None:
    """Fail before reading rows when the source no longer has a mapped column. The source's own
    column names are not listed: a file's header row is its content too."""
    have = set(columns)
    problems = Collector()
    for key, rule in mapping.items():
        if isinstance(rule, str) and rule not in have:
            problems.add(rule, f"{where}: column {rule!r} (-> {key}) is missing; the source has "
                               f"{len(have)} column(s), none of that name")
    problems.raise_if_any(f"{where}: the source's columns changed")

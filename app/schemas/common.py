"""What every schema shares: the base model, the constrained types built on the bounds of
``app/plausible.py``, and the ONE mapping from a ``pydantic.ValidationError`` to the contract's
error shape (``index``, ``field``, ``message``; nested fields as ``stages[0].name``).

The types carry their own wording (``PydanticCustomError``) so a caller reads "must be an integer
from 0 to 100", not pydantic's generic text; the generic errors pydantic raises itself (a missing
field, a wrong JSON type) are worded in ``_MESSAGES``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from app import months, plausible
from app.errors import Collector, Detail, ValidationFailed

M = TypeVar("M", bound=BaseModel)
UNKNOWN_FIELD = "unknown field"


class Body(BaseModel):
    """Base of every inbound shape: a field it does not declare is refused (never dropped), and
    values are taken as JSON types only (no "1" for 1, no 1 for true)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)

    def given(self) -> set[str]:
        """The fields the caller sent (a PATCH changes only those)."""
        return set(self.model_fields_set)


def problem(message: str) -> PydanticCustomError:
    """A validation error worded by us; the message goes through the context so braces in it are
    never taken for a template."""
    return PydanticCustomError("liftoff", "{message}", {"message": message})


# --- constrained types ---------------------------------------------------------------------------

def _text(limit: int, blank_is_none: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None:
            if blank_is_none:
                return None
            raise problem("is required")
        if not isinstance(value, str):
            raise problem("must be a string")
        stripped = value.strip()
        if not stripped:
            if blank_is_none:
                return None
            raise problem("is required")
        if len(stripped) > limit:
            raise problem(f"must be at most {limit} characters")
        return stripped
    return check


def Text(limit: int) -> Any:  # noqa: N802 (a type, spelled like one)
    """A required, non-blank string of at most ``limit`` characters, stripped."""
    return Annotated[str, Field(min_length=1, max_length=limit), BeforeValidator(_text(limit, False))]


def OptionalText(limit: int) -> Any:  # noqa: N802
    """An optional string, stripped; blank is absent (None)."""
    return Annotated[str | None, Field(max_length=limit), BeforeValidator(_text(limit, True))]


def _raw_text(limit: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise problem("must be a string")
        if len(value) > limit:
            raise problem(f"must be at most {limit} characters")
        return value
    return check


def KeptText(limit: int) -> Any:  # noqa: N802
    """An optional text kept exactly as sent (an AI answer's blanks matter); empty is absent."""
    return Annotated[str | None, Field(max_length=limit), BeforeValidator(_raw_text(limit))]


def _figure(high: float, unit: str) -> Callable[[Any], float | None]:
    def check(value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise problem("must be a number")
        if not math.isfinite(value) or value < 0:
            raise problem("must be a finite number >= 0")
        if value > high:
            raise problem(f"must be at most {plausible.figure(high)}{unit}")
        return float(value)
    return check


def Figure(high: float, unit: str = "") -> Any:  # noqa: N802
    """An optional measured figure: a finite number from 0 to ``high`` (app/plausible.py)."""
    return Annotated[float | None, Field(ge=0, le=high), BeforeValidator(_figure(high, unit))]


def _number(low: float, high: float, integer: bool, nullable: bool) -> Callable[[Any], Any]:
    what = "an integer" if integer else "a number"

    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
                or not low <= value <= high:
            raise problem(f"must be {what} from {low:g} to {plausible.figure(high)}")
        return value if integer else float(value)
    return check


def Number(low: float, high: float) -> Any:  # noqa: N802
    """A number from ``low`` to ``high``."""
    return Annotated[float, Field(ge=low, le=high), BeforeValidator(_number(low, high, False, False))]


def OptionalNumber(low: float, high: float) -> Any:  # noqa: N802
    return Annotated[float | None, Field(ge=low, le=high), BeforeValidator(_number(low, high, False, True))]


def Integer(low: int, high: int = plausible.MAX_INT) -> Any:  # noqa: N802
    """A whole number from ``low`` to ``high`` (at most the INTEGER columns' limit)."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_number(low, high, True, False))]


def OptionalInteger(low: int, high: int = plausible.MAX_INT) -> Any:  # noqa: N802
    return Annotated[int | None, Field(ge=low, le=high), BeforeValidator(_number(low, high, True, True))]


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise problem("must be true or false")
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with an offset, as aware UTC from 1970 on."""
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            if not isinstance(value, str):
                raise ValueError
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise problem(f"not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise problem("needs a UTC offset (e.g. Z)")
    found = Collector()
    moment = plausible.to_utc(parsed, "", None, found)
    if moment is None:
        raise problem(found.details[0].message)
    return moment


def _recent(value: Any) -> datetime | None:
    moment = _timestamp(value)
    found = Collector()
    if moment is not None and plausible.not_in_future(moment, "", None, found) is None:
        raise problem(found.details[0].message)
    return moment


def _required(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``check`` for a field that must not be null: null reads "is required", as absent does."""
    def required(value: Any) -> Any:
        if value is None:
            raise problem("is required")
        return check(value)
    return required


Timestamp = Annotated[datetime, BeforeValidator(_required(_timestamp))]
OptionalTimestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
# Something that happened: at most five minutes ahead of the server's clock.
PastTimestamp = Annotated[datetime, BeforeValidator(_required(_recent))]


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    else:
        try:
            if not isinstance(value, str):
                raise ValueError
            day = date.fromisoformat(value)
        except ValueError:
            raise problem(f"not a date (YYYY-MM-DD): {value!r}") from None
    if not 1900 <= day.year <= 2999:  # the years of app/months.py: no overflow in date arithmetic
        raise problem("must be a date from 1900 to 2999")
    return day


Day = Annotated[date, BeforeValidator(_required(_day))]
OptionalDay = Annotated[date | None, BeforeValidator(_day)]


def _month(value: Any) -> str:
    if not months.is_month(value):
        raise problem("must be YYYY-MM")
    return value


Month = Annotated[str, Field(pattern=months.PATTERN), BeforeValidator(_month)]

MAX_REASON = 2000


def _reason(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem("a reason is required (it is kept in the audit trail)")
    if len(value) > MAX_REASON:
        raise problem(f"must be at most {MAX_REASON} characters")
    return value.strip()


# Corrections always say why; the reason is kept in the audit trail.
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON), BeforeValidator(_reason)]


def choice(values: Sequence[str]) -> Callable[[Any], str]:
    """A validator refusing anything but one of ``values`` (the wording lists them)."""
    def check(value: Any) -> str:
        if value not in values:
            raise problem(f"must be one of {', '.join(values)}")
        return value
    return check


# --- errors --------------------------------------------------------------------------------------

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": UNKNOWN_FIELD,
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "date_type": "must be a date (YYYY-MM-DD)",
    "datetime_type": "must be an ISO 8601 timestamp with an offset",
}


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "liftoff":
        return error["ctx"]["message"]
    if kind in ("literal_error", "enum"):
        return f"must be one of {error['ctx']['expected']}"
    if kind == "too_long":
        return f"at most {error['ctx']['max_length']:,} items"
    if kind == "too_short":
        return "must not be empty"
    return _MESSAGES.get(kind, error["msg"])


def field_path(loc: Sequence[str | int], row_field: str = "(row)") -> str:
    """``("stages", 0, "name")`` as ``stages[0].name``; the empty path is the row itself."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or row_field


def details_of(error: ValidationError, index: int | None = None, row_field: str = "(row)") -> list[Detail]:
    """The contract's details of a pydantic error: one per field, ``index`` the row's number,
    ``row_field`` what a problem of the whole row (not an object) is named. An item of a list
    field of a single body is named by the list and its ``index`` (``members``, index 2), as the
    rows of a batch are; a field inside an item by its path (``stages[0].name``)."""
    out = []
    for e in error.errors(include_url=False):
        loc = e["loc"]
        if index is None and len(loc) >= 2 and isinstance(loc[-1], int):
            out.append(Detail(field_path(loc[:-1], row_field), _message(e), loc[-1]))
        else:
            out.append(Detail(field_path(loc, row_field), _message(e), index))
    return out


def unknown_only(details: list[Detail]) -> list[Detail]:
    """An unknown field is refused first, on its own: the details naming one, if any."""
    return [d for d in details if d.message == UNKNOWN_FIELD]


def unknown_keys(model: type[BaseModel], rows: Sequence[Any]) -> list[Detail]:
    """The keys of each row that ``model`` does not declare, by the row's index: the refusal of
    unknown fields for a batch of flat rows (events, people, feedback) without parsing every row
    twice (the service parses them)."""
    fields = model.model_fields.keys()
    return [Detail(str(key), UNKNOWN_FIELD, i) for i, row in enumerate(rows) if isinstance(row, dict)
            for key in row if key not in fields]


def validate(model: type[M], data: Any, problems: Collector, *, index: int | None = None,
             context: Any = None, row_field: str = "(row)") -> M | None:
    """``data`` as ``model``, or None with every problem added to ``problems``."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        problems.details.extend(details_of(error, index, row_field))
        return None


def validate_rows(model: type[M], rows: Sequence[Any], problems: Collector,
                  indices: Sequence[int] | None = None, context: Any = None,
                  row_field: str = "(row)") -> list[tuple[int, M]]:
    """Every row of a batch as ``model``: ``(index, row)`` of the good ones; the bad ones are
    named by their index (``indices``: the numbers to report, e.g. CSV line numbers)."""
    numbers = list(indices) if indices is not None else range(len(rows))
    good = []
    for number, row in zip(numbers, rows, strict=True):
        parsed = validate(model, row, problems, index=number, context=context, row_field=row_field)
        if parsed is not None:
            good.append((number, parsed))
    return good


def parse(model: type[M], data: Any, message: str, context: Any = None) -> M:
    """``data`` as ``model``, or a ``ValidationFailed(message)`` naming every bad field; an
    unknown field is refused on its own, before anything else is looked at."""
    problems = Collector()
    parsed = validate(model, data, problems, context=context)
    if parsed is None:
        refuse(problems, message)
        raise ValidationFailed(message)  # not reached: a failed validation leaves its problems
    return parsed


def refuse(problems: Collector, message: str) -> None:
    """Raise what ``problems`` holds, unknown fields first and alone (the contract's rule)."""
    unknown = unknown_only(problems.details)
    if unknown:
        raise ValidationFailed("unknown fields; nothing was written", unknown)
    problems.raise_if_any(message)

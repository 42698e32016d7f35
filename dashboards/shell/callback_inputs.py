"""What each dashboard component may hand a callback, checked before Dash runs the callback.

A callback request that fits a registered callback (dashboards/shell/dash_requests.py) still carries
values: a button's ``n_clicks``, a store's ``data``, a pattern id's ``job``. The renderer only ever
sends what the layout put there, but a logged-in user can send anything, and a callback given a
list where its layout keeps a string fails with a 500. Each page therefore declares, next to its
callbacks, what its components hold::

    accepts("adoption-query", "data", record(feature=FEATURE_KEY, month=calendar_month(), group=text(20)))
    accepts({"type": "ops-run", "job": ALL}, "n_clicks", N_CLICKS, ids={"job": text(120)})

and ``request_problem`` checks every input and state of a request against those declarations. A
mismatch answers 400 naming the component, is logged as a warning, and the callback does not run.

Why a declaration per component property, checked in the request layer, rather than checks inside
each callback:

- A value's kind belongs to its component, not to the callback reading it: ``enablement-version``
  is a counter for each of the seven callbacks that read it. Declared once, beside the layout that
  makes the component, it cannot drift between callbacks.
- The request layer already knows which callback is targeted and which component each value comes
  from, so the callbacks keep their plain signatures and bodies; none of them grows a guard.
- Nothing is caught: a callback that fails on a value of the declared kind is a bug and still
  answers 500. Only a value outside its declaration becomes a 400, before the callback runs.
- Values of the right kind that mean nothing (an unknown feature key, a month without data, the id
  of a deleted record) pass, and the callback answers with its page's alert or empty state.
- A value of the wrong kind never comes from the page, so nobody would read an alert about it;
  the one who sent it reads the 400, as for a malformed request.

A component's ``id`` property is not declared: its value must be the id it is sent with. A
pattern's wildcard values (which job's button, which feedback item) are declared with ``ids``.
An input or state without a declaration is a programming error: it raises ``Undeclared`` (a 500),
and the tests call every callback, so such a page never ships.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from dash.dependencies import DashDependency, Wildcard

from app.errors import Detail
from app.months import FIRST_YEAR, LAST_YEAR, is_month  # the one month rule (app/months.py)

# What is wrong with a value: (where inside it, "" for the value itself; the message), or None.
Problem = tuple[str, str] | None
Check = Callable[[Any], Problem]

_accepted: dict[str, Check] = {}  # "component.property", as Dash's callback map writes it -> check
_wildcards: dict[str, dict[str, Check]] = {}  # a pattern id, as Dash writes it -> its keys' checks

# Years a month may name: far beyond any data, and where date arithmetic (a window of weeks before
# the month, the month after it) stays inside what Python's dates hold.


class Undeclared(RuntimeError):
    """A callback reads a component property that no page declared with ``accepts``."""


def accepts(component_id: str | dict, prop: str, check: Check, ids: dict[str, Check] | None = None) -> None:
    """Declare what ``component_id``'s ``prop`` holds; for a pattern id, ``ids`` checks each
    wildcard key's value (for example ``{"job": text(120)}``), once per pattern."""
    dependency = DashDependency(component_id, prop)
    _accepted[str(dependency)] = check
    if not isinstance(component_id, dict):
        return
    pattern = dependency.component_id_str()
    if ids is not None:
        if _wildcards.get(pattern, ids) != ids:
            raise ValueError(f"the wildcards of {pattern} are declared twice, differently")
        _wildcards[pattern] = ids
    wild = {key for key, value in component_id.items() if isinstance(value, Wildcard)}
    if wild != set(_wildcards.setdefault(pattern, {})):
        raise ValueError(f"{pattern}: declare exactly the wildcard keys {sorted(wild)} with ids=")


def request_problem(body: dict, callback: dict) -> Detail | None:
    """The first input or state value of ``body`` that its component's declaration refuses.

    ``body`` already fits ``callback`` (an entry of Dash's callback map): the same components in
    the same order, a list of components for a pattern with wildcards."""
    for key in ("inputs", "state"):
        for registered, sent in zip(callback[key], body.get(key, []), strict=True):
            declared = f"{registered['id']}.{registered['property']}"
            check = _accepted.get(declared)
            if check is None and registered["property"] != "id":
                raise Undeclared(f"no page declares what {declared} holds "
                                 "(dashboards/shell/callback_inputs.py)")
            for entry in sent if isinstance(sent, list) else [sent]:
                problem = _wildcard_problem(registered["id"], entry["id"])
                if problem is None:
                    problem = (check or _own_id(entry["id"]))(entry.get("value"))
                if problem is not None:
                    inside, message = problem
                    return Detail(f"{_id_text(entry['id'])}.{entry['property']}{inside}", message)
    return None


def first_query_values(layout: Callable) -> Callable:
    """``layout`` as Dash's page routing should call it. The routing hands a page's layout each
    query parameter, as a list when the URL repeats it (?feature=a&feature=b), which no page
    expects: as in Flask's ``request.args``, the first one counts."""

    @functools.wraps(layout)
    def with_single_values(**params):
        return layout(**{key: value[0] if isinstance(value, list) else value
                         for key, value in params.items()})

    return with_single_values


def declared(key: str) -> bool:
    """Whether ``component.property`` (as Dash's callback map writes it) has a declaration."""
    return key in _accepted or key.endswith(".id")


def _id_text(ident) -> str:
    # An id as Dash writes it before ".property": a pattern id as JSON with sorted keys.
    return json.dumps(ident, sort_keys=True, separators=(",", ":")) if isinstance(ident, dict) else ident


def _own_id(ident) -> Check:
    # A component's id property holds the id it is sent with.
    return lambda value: None if value == ident else ("", "must be the component's own id")


def _wildcard_problem(pattern: str, sent_id) -> Problem:
    if not isinstance(sent_id, dict):
        return None
    checks = _wildcards.get(pattern)
    if checks is None:
        raise Undeclared(f"no page declares the wildcards of {pattern} (dashboards/shell/callback_inputs.py)")
    for key, check in checks.items():
        problem = check(sent_id.get(key))
        if problem is not None:
            return "", f"the id's {key!r} {problem[1]}"
    return None


# --- the kinds of values -----------------------------------------------------------------------------


def whole(low: int | None = None, high: int | None = None, optional: bool = True) -> Check:
    """A whole number (not a bool, not 1.5) within [low, high]; None too when ``optional``."""
    if low is not None and high is not None:
        bounds = f" from {low} to {high}"
    else:
        bounds = f" >= {low}" if low is not None else f" <= {high}" if high is not None else ""
    message = f"must be a whole number{bounds}" + (", or null" if optional else "")

    def check(value) -> Problem:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            return "", message
        if (low is not None and value < low) or (high is not None and value > high):
            return "", message
        return None

    return check


def text(limit: int, optional: bool = True) -> Check:
    """A string of at most ``limit`` characters; None too when ``optional``."""
    message = f"must be a text of at most {limit} characters" + (", or null" if optional else "")

    def check(value) -> Problem:
        if value is None and optional:
            return None
        return None if isinstance(value, str) and len(value) <= limit else ("", message)

    return check


def texts(limit: int, items: int) -> Check:
    """A checklist's value: a list of at most ``items`` strings of at most ``limit`` characters, or
    None."""
    message = f"must be a list of at most {items} texts of at most {limit} characters, or null"

    def check(value) -> Problem:
        if value is None:
            return None
        fits = isinstance(value, list) and len(value) <= items and all(
            isinstance(item, str) and len(item) <= limit for item in value)
        return None if fits else ("", message)

    return check


def calendar_month(optional: bool = False) -> Check:
    """A month YYYY-MM (years FIRST_YEAR to LAST_YEAR); None too when ``optional``."""
    message = f"must be a month YYYY-MM from {FIRST_YEAR} to {LAST_YEAR}" + (", or null" if optional else "")

    def check(value) -> Problem:
        if value is None and optional:
            return None
        return None if is_month(value) else ("", message)

    return check


def record(**fields: Check) -> Check:
    """An object with exactly these keys, each value of its kind (a store the layout fills)."""
    message = f"must be an object with the keys {', '.join(fields)}"

    def check(value) -> Problem:
        if not isinstance(value, dict) or set(value) != set(fields):
            return "", message
        for key, field_check in fields.items():
            problem = field_check(value[key])
            if problem is not None:
                return f".{key}{problem[0]}", problem[1]
        return None

    return check


def path_under(prefix: str, limit: int) -> Check:
    """A dcc.Location ``pathname``: a path of at most ``limit`` characters under ``prefix``, or
    None (Dash's page routing refuses any other path with an exception)."""
    message = f"must be a path under {prefix} of at most {limit} characters, or null"

    def check(value) -> Problem:
        if value is None:
            return None
        fits = isinstance(value, str) and len(value) <= limit and value.startswith(prefix)
        return None if fits else ("", message)

    return check


# The kinds several pages share. Lengths follow the columns the values end up in.
N_CLICKS = whole(0)  # a button's click count; None before the first click
COUNTER = whole(0, 2**53)  # a store the page bumps to re-read itself (a JavaScript number stays exact)
FEATURE_KEY = text(120)  # a feature picker's value (Feature.key); None when it is cleared
PAGE_FEATURE = text(120, optional=False)  # the feature a page shows, in its store
SEARCH = text(2048)  # a dcc.Location's query string
RECORD_ID = whole(1, 2**31 - 1, optional=False)  # a row id (an integer column in PostgreSQL)

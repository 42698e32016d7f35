"""The people picker: choose people by name, e-mail, department or cohort, add a whole department or
cohort at once, or upload a CSV of e-mail addresses or person ids. Any page may hold several.

Use it in three steps (the People & cohorts and Enablement pages do)::

    from dashboards.people import picker

    layout = [..., picker.people_picker("training", "Attendees"), ...]   # 1. the component

    @callback(Output(...), Input("save", "n_clicks"), picker.chosen_state("training"))  # 2. read it
    def save(clicks, chosen):
        person_ids = picker.chosen_ids(chosen)                            # 3. the person ids chosen

``picker.chosen_output("training")`` empties or fills the picker from another callback (pass the
options too, from ``picker.options_output`` and ``picker.options_for``, so the names show).

The search runs on the server (dashboards/people/data.py): at most SEARCH_LIMIT people per search,
with how many more matched, and typed text reaches SQL only as an escaped, bound pattern. Every
choice is shown as name and department, never as a bare id. The picker only reads; whatever is
saved with the chosen ids is checked by the page's action (and its service) as usual.
"""

from __future__ import annotations

from dash import MATCH, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboards.people import data
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, Problem, accepts, record, text, whole

__all__ = ["chosen_ids", "chosen_output", "chosen_state", "message_output", "options_for", "options_output",
           "people_picker"]

CHOICE, GROUP, ADD, UPLOAD, MESSAGE, SUMMARY, MORE, QUERY = (
    "pp-choice", "pp-group", "pp-add", "pp-upload", "pp-message", "pp-summary", "pp-more", "pp-query")
MAX_PAGE = 10_000  # pages of SEARCH_LIMIT: far beyond any directory
PERSON_ID_MAX = 200  # people.person_id
SHOWN = 8  # names listed under the picker; the rest are counted


def _id(part: str, prefix) -> dict:
    return {"type": part, "picker": prefix}


def people_picker(prefix: str, label: str = "People", multi: bool = True,
                  chosen: list[str] | None = None) -> html.Div:
    """The picker's component. ``prefix`` tells pickers on one page apart (and names their DOM ids:
    ``<prefix>-picker``). A single picker (``multi=False``) picks one person and has no bulk adds.

    :param chosen: person ids chosen from the start (a cohort's members being edited).
    """
    chosen = list(chosen or [])
    control = dcc.Dropdown(
        id=_id(CHOICE, prefix), options=data.labels_for(chosen), value=chosen if multi else
        (chosen[0] if chosen else None), multi=multi, searchable=True, debounce=False,
        placeholder="Type a name, e-mail, department or cohort", className="lo-picker-choice",
    )
    parts = [html.Label(label, htmlFor=f"{prefix}-picker-search"),
             html.Div(control, id=f"{prefix}-picker-search"),
             # The search shows SEARCH_LIMIT people at a time; this pages on through the rest.
             dcc.Store(id=_id(QUERY, prefix), data={"term": "", "page": 0}),
             html.Button("Next matches", id=_id(MORE, prefix), n_clicks=0, disabled=True,
                         className="lo-btn lo-btn-ghost lo-btn-sm lo-picker-more")]
    # A single picker keeps the bulk controls, hidden: its callbacks need every part present.
    parts.append(html.Div([
        dcc.Dropdown(id=_id(GROUP, prefix), options=data.group_options() if multi else [], value=None,
                     placeholder="A whole department or cohort", className="lo-picker-group"),
        html.Button("Add all", id=_id(ADD, prefix), n_clicks=0, className="lo-btn lo-btn-secondary"),
        dcc.Upload(
            html.Span(["Upload a CSV of e-mails or ids"]), id=_id(UPLOAD, prefix),
            accept=".csv,.txt,text/csv,text/plain", max_size=data.UPLOAD_BYTES, multiple=False,
            className="lo-btn lo-btn-ghost lo-picker-upload",
        ),
    ], className="lo-picker-bulk", hidden=not multi))
    parts += [html.Div(id=_id(MESSAGE, prefix), className="lo-picker-message",
                       **ui.attributes({"aria-live": "polite"})),
              html.Div(_summary(chosen) if multi else None, id=_id(SUMMARY, prefix),
                       className="lo-muted lo-picker-summary")]
    return html.Div(parts, className="lo-picker-box", id=f"{prefix}-picker")


def chosen_state(prefix: str) -> State:
    """The picker's choice as a callback State (declared for the request checks on first use)."""
    accepts(_id(CHOICE, prefix), "value", _choice_check)
    return State(_id(CHOICE, prefix), "value")


def chosen_output(prefix: str) -> Output:
    """The picker's choice as a callback Output (to empty it after saving, or fill it)."""
    return Output(_id(CHOICE, prefix), "value", allow_duplicate=True)


def options_output(prefix: str) -> Output:
    """The picker's options as a callback Output (set them with ``options_for``)."""
    return Output(_id(CHOICE, prefix), "options", allow_duplicate=True)


def message_output(prefix: str) -> Output:
    """The picker's message (what a bulk add or an upload did) as a callback Output, to clear it."""
    return Output(_id(MESSAGE, prefix), "children", allow_duplicate=True)


def options_for(person_ids: list[str]) -> list[dict]:
    """The options that show these chosen people by name and department."""
    return data.labels_for(person_ids)


def chosen_ids(value) -> list[str]:
    """The person ids a picker's value holds: a list (several) or one id (a single picker)."""
    values = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(v for v in values if isinstance(v, str) and v))


def _choice_check(value) -> Problem:
    message = (f"must be a person id, or a list of at most {data.GROUP_LIMIT:,} person ids "
               f"of at most {PERSON_ID_MAX} characters")
    values = value if isinstance(value, list) else [value]
    if value is None or (isinstance(value, list) and len(value) <= data.GROUP_LIMIT and all(
            isinstance(v, str) and len(v) <= PERSON_ID_MAX for v in values)):
        return None
    if isinstance(value, str) and len(value) <= PERSON_ID_MAX:
        return None
    return "", message


def _summary(chosen: list[str]) -> str:
    if not chosen:
        return "Nobody chosen yet."
    names = [o["label"].split(" (")[0] for o in data.labels_for(chosen[:SHOWN])]
    more = len(chosen) - len(names)
    return f"{len(chosen)} chosen: " + "; ".join(names) + (f"; and {more} more" if more > 0 else "")


accepts(_id(CHOICE, MATCH), "value", _choice_check, ids={"picker": text(40, optional=False)})
accepts(_id(CHOICE, MATCH), "search_value", text(200))
accepts(_id(GROUP, MATCH), "value", text(400), ids={"picker": text(40, optional=False)})
accepts(_id(ADD, MATCH), "n_clicks", N_CLICKS, ids={"picker": text(40, optional=False)})
accepts(_id(MORE, MATCH), "n_clicks", N_CLICKS, ids={"picker": text(40, optional=False)})
accepts(_id(QUERY, MATCH), "data",
        record(term=text(200, optional=False), page=whole(0, MAX_PAGE, optional=False)),
        ids={"picker": text(40, optional=False)})
# base64 of at most UPLOAD_BYTES (4 characters per 3 bytes) and its data: header
accepts(_id(UPLOAD, MATCH), "contents", text(data.UPLOAD_BYTES * 4 // 3 + 200),
        ids={"picker": text(40, optional=False)})


def _page(term: str, page: int, chosen: list[str]) -> tuple[list[dict], str | None, bool]:
    """(options, note, whether a next page exists) of one page of a search's matches."""
    found, total = data.search_people(term, data.SEARCH_LIMIT, page * data.SEARCH_LIMIT)
    first, last = page * data.SEARCH_LIMIT + 1, page * data.SEARCH_LIMIT + len(found)
    # The dropdown filters its options by the typed text too: a person found by e-mail or cohort
    # has neither in the label, so each found option carries the text it was found by.
    taken = set(chosen)
    options = data.labels_for(chosen) + [{**o, "search": f"{o['label']} {term}"}
                                         for o in found if o["value"] not in taken]
    if not total:
        return options, f"Nobody matches “{term[:80]}”.", False
    if total <= data.SEARCH_LIMIT:
        return options, None, False
    note = (f"Matches {first}–{last} of {total} for “{term[:80]}”: type more to narrow them, or "
            "“Next matches” for the following ones.")
    return options, note, last < total


@callback(
    Output(_id(CHOICE, MATCH), "options"),
    Output(_id(CHOICE, MATCH), "value"),
    Output(_id(MESSAGE, MATCH), "children"),
    Output(_id(QUERY, MATCH), "data"),
    Output(_id(MORE, MATCH), "disabled"),
    Input(_id(CHOICE, MATCH), "search_value"),
    Input(_id(MORE, MATCH), "n_clicks"),
    Input(_id(ADD, MATCH), "n_clicks"),
    Input(_id(UPLOAD, MATCH), "contents"),
    State(_id(CHOICE, MATCH), "value"),
    State(_id(GROUP, MATCH), "value"),
    State(_id(QUERY, MATCH), "data"),
    prevent_initial_call=True,
)
def pick(search, _more, _add, upload, value, group, query):
    """Offer the people a search finds (beside those chosen) a page at a time, or add a whole
    group or a file's list."""
    chosen = chosen_ids(value)
    part = ctx.triggered_id["type"] if isinstance(ctx.triggered_id, dict) else None
    if part in (CHOICE, MORE):
        term = (search or "").strip() if part == CHOICE else query["term"]
        page = 0 if part == CHOICE else min(query["page"] + 1, MAX_PAGE)
        if not term:
            return no_update, no_update, no_update, no_update, no_update
        options, note, more = _page(term, page, chosen)
        return options, no_update, note, {"term": term, "page": page}, not more
    if part == ADD:
        members = data.group_members(group)
        if members is None:
            refusal = html.Span("Choose a department or cohort first.", className="lo-field-error")
            return no_update, no_update, refusal, no_update, no_update
        merged = list(dict.fromkeys(chosen + members))
        added = len(merged) - len(chosen)
        return (data.labels_for(merged), merged, f"Added {added} of the group's {len(members)} people.",
                no_update, no_update)
    if part == UPLOAD:
        uploaded = data.read_people_list(upload)
        merged = list(dict.fromkeys(chosen + uploaded.person_ids))
        added = len(merged) - len(chosen)
        lines = [html.Div(f"The file names {len(uploaded.person_ids)} people; {added} of them added "
                          "(the others were chosen already).")]
        if uploaded.problems:
            shown = uploaded.problems[:20]
            more = len(uploaded.problems) - len(shown)
            rows = f"{len(uploaded.problems)} row" + ("" if len(uploaded.problems) == 1 else "s")
            heading = html.Div(f"{rows} named nobody:", className="lo-strong")
            lines.append(html.Div([heading, html.Ul([html.Li(p) for p in shown]),
                                   html.Div(f"and {more} more") if more else None],
                                  className="lo-field-error",
                                  id=f"{ctx.triggered_id['picker']}-picker-problems"))
        return data.labels_for(merged), merged, lines, no_update, no_update
    return no_update, no_update, no_update, no_update, no_update


@callback(
    Output(_id(SUMMARY, MATCH), "children"),
    Input(_id(CHOICE, MATCH), "value"),
    prevent_initial_call=True,
)
def summarise(value):
    """Say how many are chosen, and the first few by name (the picker box shows only so many)."""
    return _summary(chosen_ids(value)) if isinstance(value, list) else None

"""Callback requests for the dashboard's junk tests (tests/test_dashboard_junk.py): as the renderer
builds them from /_dash-dependencies, with the values the real pages hold, and with junk put in
one value (or one pattern id's wildcard) at a time."""

from __future__ import annotations

import copy
import json
from datetime import date

THIS_MONTH = date.today().strftime("%Y-%m")
FEATURE = "quote-assistant"  # at stage 2 of 3 in tests.dashboard_support.seed_company
MATCHED = "match"  # the wildcard value of the one component a MATCH pattern's callback is called for
JUNK = [1.5, -1, "x", [], {}, None, "x" * 10_000, {"a": {"b": {"c": [1, {"d": None}]}}}]

# What the real pages hold, for every input and state of every server callback ("id.property" as
# /_dash-dependencies writes it). A pattern maps to the components it matches: (id, value) pairs.
# Buttons are clicked, so that each callback runs past its "nothing clicked yet" return.
_TRIAGE = {"id": 1, "to": "triaged", "type": "fb-triage"}
_OWNER = {"id": 1, "type": "fb-owner"}
GOOD: dict[str, object] = {
    "_pages_location.pathname": "/dashboard/adoption",
    "_pages_location.search": f"?feature={FEATURE}",
    "adoption-feature-picker.value": FEATURE,
    "adoption-month-picker.value": THIS_MONTH,
    "adoption-group-picker.value": "cohort",
    "adoption-location.search": f"?feature={FEATURE}",
    "adoption-query.data": {"feature": FEATURE, "month": THIS_MONTH, "group": "stage"},
    "quality-feature-picker.value": FEATURE,
    "quality-month-picker.value": THIS_MONTH,
    "quality-location.search": f"?feature={FEATURE}",
    "quality-query.data": {"feature": FEATURE, "month": THIS_MONTH},
    "exec-month-picker.value": THIS_MONTH,
    "exec-month.data": THIS_MONTH,
    "exec-subscribe.value": ["monthly"],
    "exec-period-preset.value": "quarter",
    "portfolio-refresh.n_clicks": 1,
    "ops-version.data": 0,
    "ops-refresh.n_clicks": 1,
    # An unknown job: the page answers with its alert, and the fuzz runs no real job.
    '{"job":["ALL"],"type":"ops-run"}.n_clicks': [({"job": "no-such-job", "type": "ops-run"}, 1)],
    "rollout-feature-picker.value": FEATURE,
    "rollout-feature.data": FEATURE,
    "rollout-version.data": 0,
    **{f"rollout-{action}.n_clicks": 1 for action in ("advance", "rollback", "kill", "resume")},
    "rollout-cancel.n_clicks": 0,
    "rollout-confirm.n_clicks": 1,
    "rollout-pending.data": "advance",
    "rollout-reason.value": "pilot went well",
    "rollout-last.data": FEATURE,
    "rollout-defaulted.data": False,
    # The "who gets it?" tester: a person of the seeded company, now.
    "who-person.value": "emp003",
    "who-person.search_value": "emp",
    "who-at.value": "",
    # The corrections panel: saving stages that are no JSON (the page's alert; nothing changes).
    "correct-archive.n_clicks": 1,
    "correct-archive.children": "Archive",
    "correct-save-stages.n_clicks": 1,
    "correct-cancel.n_clicks": 0,
    "correct-confirm.n_clicks": 1,
    "correct-pending.data": "stages",
    "correct-reason.value": "pilot cohort renamed",
    # The stage editor: a stage of 500 % (the service refuses it; the message goes under its row).
    **{f"correct-stage-{field}-{slot}.value": value for slot in range(10)
       for field, value in (("name", "ramp" if slot == 0 else ""), ("cohorts", []),
                            ("percentage", 500 if slot == 0 else None))},
    # The portfolio's search, filters and sort.
    "portfolio-search.value": "quote",
    "portfolio-stage.value": [],
    "portfolio-status.value": ["live"],
    "portfolio-gate.value": [],
    "portfolio-sort.value": "roi_pct",
    "portfolio-order.value": "desc",
    # The new-feature form: a key that is taken (the service's 409, shown under the key).
    "new-create.n_clicks": 1,
    "new-key.value": FEATURE,
    "new-name.value": "Quote assistant again",
    "new-description.value": "",
    "new-baseline_days.value": 28,
    "new-estimated_minutes_saved.value": 4.5,
    "new-per_event_cost_eur.value": None,
    **{f"new-stage-{field}-{slot}.value": value for slot in range(10)
       for field, value in (("name", "Champions" if slot == 0 else ""), ("cohorts", ["champions"] if slot == 0
                                                                             else []),
                            ("percentage", 0 if slot == 0 else None))},
    # The executive page's cost entries: voiding an entry that does not exist (the page's alert).
    "cost-version.data": 0,
    "cost-pending.data": 99999,
    "cost-reason.value": "entered twice",
    '{"id":["ALL"],"type":"cost-void"}.n_clicks': [({"id": 99999, "type": "cost-void"}, 1)],
    "cost-cancel.n_clicks": 0,
    "cost-confirm.n_clicks": 1,
    # The operations page's event voids: ids no event has (the page's alert names them).
    "void-review.n_clicks": 1,
    "void-cancel.n_clicks": 0,
    "void-confirm.n_clicks": 1,
    "void-ids.value": "no-such-event\nnor-this, one",
    "void-source.value": "",
    "void-reason.value": "imported twice",
    "rollout-override.value": [],  # ticked only after a gate refused the advance
    "rollout-override-box.hidden": True,
    "enablement-feature-picker.value": FEATURE,
    "enablement-feature.data": FEATURE,
    "enablement-version.data": 3,
    "feedback-submit.n_clicks": 1,
    '{"picker":"feedback","type":"pp-choice"}.value': "emp001",
    "feedback-rating.value": 4,
    "feedback-category.value": "quality",
    "feedback-severity.value": "normal",
    "feedback-comment.value": "The drafts are good.",
    '{"id":["ALL"],"to":["ALL"],"type":"fb-triage"}.n_clicks': [(_TRIAGE, 1)],
    '{"id":["ALL"],"type":"fb-owner"}.value': [(_OWNER, "cm@liftoff.test")],
    '{"id":["ALL"],"type":"fb-owner"}.id': [(_OWNER, _OWNER)],
    "action-add.n_clicks": 1,
    "action-title.value": "Run a refresher",
    "action-owner.value": "cm@liftoff.test",
    "action-due.value": "2026-12-01",
    '{"id":["ALL"],"type":"action-done"}.n_clicks': [({"id": 1, "type": "action-done"}, 1)],
    "gate-evaluate.n_clicks": 1,
    "gate-promote.n_clicks": 1,
    "promote-cancel.n_clicks": 0,
    "promote-confirm.n_clicks": 1,
    "promote-reason.value": "pilot went well",
    "promote-override.value": [],
    # The review page: a sample and an item that do not exist, a feature without outputs to draw,
    # a dataset name the service refuses (each answers with the page's alert; nothing is written).
    "review-feature.value": FEATURE,
    "review-version.data": 0,
    "review-sample.value": 99999,
    "review-size.value": 3,
    "review-draw.n_clicks": 1,
    "review-item-id.data": 99999,
    "review-label.value": "correct",
    "review-category.value": "",
    "review-fix.value": "",
    "review-save.n_clicks": 1,
    "review-dataset.value": "Not A Name",
    "review-export-category.value": "",
    "review-format.value": "jsonl",
    "review-export.n_clicks": 1,
    # The Compare variants page on a feature without variants (its empty state), and a promotion of
    # a variant the feature does not have (the page's alert; nothing is promoted).
    "variants-feature-picker.value": FEATURE,
    "variants-month-picker.value": THIS_MONTH,
    "variants-location.search": f"?feature={FEATURE}",
    "variants-query.data": {"feature": FEATURE, "month": THIS_MONTH},
    "variants-version.data": 0,
    "variants-promote-choice.value": "no-such-variant",
    "variants-reason.value": "fuzz",
    "variants-override.value": [],
    # The Enablement page's feedback list: everything, a second page.
    "feedback-scope.value": "all",
    "feedback-more.n_clicks": 1,
    "variants-promote.n_clicks": 1,
    "variants-cancel.n_clicks": 0,
    "variants-confirm.n_clicks": 1,
    # The variants form: two rows whose weights sum to 90 (the service's refusal names the list;
    # nothing is written), a blank rule, effective time and reason.
    "variants-define-feature.value": FEATURE,
    "variants-define-current.data": {},
    "variants-define-month.data": THIS_MONTH,
    "variants-define-control.value": None,
    "variants-define-margin.value": "",
    "variants-define-objective.value": "cost_per_task",
    "variants-define-at.value": "",
    "variants-define-reason.value": "fuzz",
    **{f"variants-define-{b}.n_clicks": 1 for b in ("add", "save", "confirm")},
    "variants-define-cancel.n_clicks": 0,
    **{f'{{"row":["ALL"],"type":"variants-row-{field}"}}.value':
       [({"row": i, "type": f"variants-row-{field}"}, value) for i, value in enumerate(values)]
       for field, values in (("name", ["a", "b"]), ("weight", ["60", "30"]), ("payload", ['{"m": 1}', ""]),
                             ("cost", ["0.05", ""]))},
    '{"row":["ALL"],"type":"variants-row-remove"}.n_clicks': [({"row": 1, "type": "variants-row-remove"}, 1)],
    # The operations page's close dialog: a month that is not the last complete one (the page says
    # so; the fuzz closes nothing).
    "ops-close-month.data": "1999-01",
    "ops-close-confirm.n_clicks": 1,
    "ops-close-cancel.n_clicks": 0,
    # The Administration page: a password the policy refuses, a user and a token nobody has (the
    # page's alerts; nothing is created or changed).
    "admin-version.data": 0,
    **{f"admin-{button}.n_clicks": 1 for button in (
        "create-user", "invite-user", "new-link", "change-role", "reset-password", "deactivate",
        "deactivate-confirm", "deactivate-cancel", "reactivate", "create-token", "revoke-token",
        "revoke-confirm", "revoke-cancel")},
    "admin-new-email.value": "fuzz@liftoff.test",
    "admin-new-role.value": "product",
    "admin-new-password.value": "short",
    "admin-user.value": "nobody@liftoff.test",
    "admin-user-role.value": "executive",
    "admin-user-password.value": "short",
    "admin-token-name.value": "",
    "admin-token-kind.value": "ingest",
    "admin-token-env.value": None,
    "admin-token-pick.value": 99999,
    # The people picker (one set of MATCH callbacks for every picker) and the forms that read it.
    **{f'{{"picker":["MATCH"],"type":"{part}"}}.{prop}': [({"picker": MATCHED, "type": part}, value)]
       for part, prop, value in (("pp-choice", "search_value", "emp"), ("pp-choice", "value", ["emp001"]),
                                 ("pp-add", "n_clicks", 1), ("pp-upload", "contents", None),
                                 ("pp-more", "n_clicks", 0), ("pp-query", "data", {"term": "emp", "page": 0}),
                                 ("pp-group", "value", "department:Sales"))},
    '{"picker":"cohort","type":"pp-choice"}.value': ["emp001", "emp002"],
    '{"picker":"training","type":"pp-choice"}.value': [],
    '{"picker":"attendance","type":"pp-choice"}.value': ["emp003"],
    "cohort-choice.value": "__new__",
    "cohort-key.value": "junk-test",
    "cohort-name.value": "Junk test",
    "cohort-effective-day.value": "",
    "cohort-effective-time.value": "",
    "cohort-save.n_clicks": 1,
    "playbook-attach.n_clicks": 1,
    "playbook-choice.value": "no-such-playbook",  # the page's alert; nothing attached
    "training-save.n_clicks": 1,
    "training-title.value": "Refresher",
    "training-trainer.value": "Ana",
    "training-stage.value": 2,
    "training-day.value": "2026-12-01",
    "training-time.value": "10:00",
    "training-duration.value": 30,
    "training-format.value": "",
    "attendance-save.n_clicks": 1,
    "attendance-session.value": 99999,  # no such session: the page's alert
    "attendance-completed.value": ["completed"],
}


# Values of the right kind that mean nothing: {dependency key: value}; the callback called is the
# first whose first input is the first key (tests/test_dashboard_junk.py).
SEMANTIC = {
    "unknown feature": {"adoption-query.data": {"feature": "no-such-feature", "month": THIS_MONTH,
                                                "group": "stage"}},
    "a month without data": {"adoption-query.data": {"feature": FEATURE, "month": "1999-01",
                                                     "group": "stage"}},
    "unknown grouping": {"adoption-query.data": {"feature": FEATURE, "month": THIS_MONTH,
                                                 "group": "planet"}},
    "the first month allowed": {"exec-month.data": "1900-01"},
    "the last month allowed": {"quality-query.data": {"feature": FEATURE, "month": "2999-12"}},
    "a deleted action item": {'{"id":["ALL"],"type":"action-done"}.n_clicks':
                              [({"id": 99999, "type": "action-done"}, 1)]},
    "a deleted feedback item": {'{"id":["ALL"],"to":["ALL"],"type":"fb-triage"}.n_clicks':
                                [({"id": 99999, "to": "triaged", "type": "fb-triage"}, 1)],
                                '{"id":["ALL"],"type":"fb-owner"}.value': [],
                                '{"id":["ALL"],"type":"fb-owner"}.id': []},
    "an unknown job": {'{"job":["ALL"],"type":"ops-run"}.n_clicks':
                       [({"job": "no-such-job", "type": "ops-run"}, 1)]},
    "a feature deleted since": {"rollout-feature.data": "gone-feature"},
    "an unknown page": {"_pages_location.pathname": "/dashboard/nope"},
    "a query parameter given twice": {"_pages_location.pathname": "/dashboard/rollout",
                                      "_pages_location.search": "?feature=a&feature=b"},
    "a month outside the years in the URL": {"_pages_location.pathname": "/dashboard/adoption",
                                             "_pages_location.search": f"?feature={FEATURE}&month=0000-01"},
}
# Junk whose 400 names a field: {label: (dependency key, value)}.
NAMED = {
    "store without month": ("adoption-query.data", {"feature": FEATURE, "group": "stage"}),
    "month 2026-13": ("adoption-query.data", {"feature": FEATURE, "month": "2026-13", "group": "stage"}),
    "month 0000-01": ("exec-month.data", "0000-01"),
    "feature a list": ("quality-query.data", {"feature": [FEATURE], "month": THIS_MONTH}),
    "triage id a text": ('{"id":["ALL"],"to":["ALL"],"type":"fb-triage"}.n_clicks',
                         [({"id": "x", "to": "triaged", "type": "fb-triage"}, 1)]),
    "version a float": ("rollout-version.data", 1.5),
    "pathname outside the dashboard": ("_pages_location.pathname", "/etc/passwd"),
}


def renderer_request(spec: dict) -> dict:
    """The request Dash's renderer sends for the callback ``spec`` of /_dash-dependencies, every
    value still unset."""

    def dependency(item: dict, value=None):
        ident = item["id"]
        if ident.startswith("{"):  # a pattern: the renderer sends the matching components, a list
            if '["ALL"]' in ident or '["ALLSMALLER"]' in ident:
                return []
            # MATCH: the one component that triggered, the same in every input, state and output
            concrete = {k: MATCHED if v == ["MATCH"] else v for k, v in json.loads(ident).items()}
            return {"id": concrete, "property": item["property"], "value": value}
        return {"id": ident, "property": item["property"], "value": value}

    output = spec["output"]
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    outputs = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        outputs.append(dependency({"id": ident, "property": prop}))
        if isinstance(outputs[-1], dict):
            del outputs[-1]["value"]
    return {
        "output": output,
        "outputs": [] if spec.get("no_output") else outputs if output.startswith("..") else outputs[0],
        "inputs": [dependency(item) for item in spec["inputs"]],
        "state": [dependency(item) for item in spec["state"]],
        "changedPropIds": [],
    }


def server_callbacks(dependencies: list[dict]) -> list[dict]:
    """The callbacks of /_dash-dependencies that run on the server (the others run in the browser)."""
    return [spec for spec in dependencies if not spec.get("clientside_function")]


def dependency_keys(spec: dict) -> list[str]:
    return [f"{item['id']}.{item['property']}" for item in spec["inputs"] + spec["state"]]


def good_request(spec: dict, values: dict | None = None) -> dict:
    """The callback ``spec`` called as the real page calls it, its first input the trigger; with
    ``values`` ({"id.property": value}, a pattern's as (id, value) pairs) in place of the pages'."""
    values = {**GOOD, **(values or {})}
    body = renderer_request(spec)
    for key in ("inputs", "state"):
        body[key] = [_component(item, values) for item in spec[key]]
    return _triggered(body)


def value_substitutions(good: dict):
    """``(component, what, junk, body)`` for every value of ``good`` replaced by each junk value
    (what: "value"), and every wildcard of a pattern id by each junk scalar wherever that component
    appears (what: the wildcard's key)."""
    for key in ("inputs", "state"):
        for position, item in enumerate(good[key]):
            entry = item[0] if isinstance(item, list) else item
            where = f"{id_text(entry['id'])}.{entry['property']}"
            if entry["property"] != "id":  # an id property's value is its id: changed with the id below
                for junk in JUNK:
                    body = copy.deepcopy(good)
                    target = body[key][position]
                    (target[0] if isinstance(target, list) else target)["value"] = junk
                    yield where, "value", junk, body
            # A dict id without wildcards (a page reading one picker) is that component's name, as
            # fixed as a text id: another value names no component of the callback (malformed).
            if isinstance(entry["id"], dict) and f"{where}" not in GOOD:
                for wildcard in [k for k in entry["id"] if k != "type"]:
                    for junk in [j for j in JUNK if not isinstance(j, list | dict)]:
                        changed = {**entry["id"], wildcard: junk}
                        # the first of its properties refused is named, whichever it is
                        yield f"{id_text(changed)}.", wildcard, junk, _with_id(good, entry["id"], changed)


def id_text(ident) -> str:
    """A component id as Dash names it in an "id.property" (a pattern id as sorted JSON)."""
    return json.dumps(ident, sort_keys=True, separators=(",", ":")) if isinstance(ident, dict) else ident


def _component(item: dict, values: dict):
    good = values[f"{item['id']}.{item['property']}"]
    ident = item["id"]
    if '["ALL"]' in ident or '["ALLSMALLER"]' in ident:  # the renderer sends every match, a list
        return [{"id": ident, "property": item["property"], "value": value} for ident, value in good]
    if '["MATCH"]' in ident:  # the one component that matches
        matched, value = good[0]
        return {"id": matched, "property": item["property"], "value": value}
    if ident.startswith("{"):  # a dict id without wildcards
        return {"id": json.loads(ident), "property": item["property"], "value": good}
    return {"id": ident, "property": item["property"], "value": good}


def _triggered(body: dict) -> dict:
    first = body["inputs"][0]
    entry = first[0] if isinstance(first, list) else first
    body["changedPropIds"] = [f"{id_text(entry['id'])}.{entry['property']}"]
    return body


def _with_id(good: dict, old: dict, new: dict) -> dict:
    def swap(node):
        if isinstance(node, list):
            return [swap(item) for item in node]
        if isinstance(node, dict):
            return {k: (new if v == old else swap(v)) for k, v in node.items()}
        return node

    body = {**good, "inputs": swap(good["inputs"]), "state": swap(good["state"])}
    return _triggered(body)

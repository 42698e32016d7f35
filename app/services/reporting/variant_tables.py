"""The variant comparison of a month for the exports and the board report: per feature with
variants, one row per variant (weight now, exposed people, AI tasks, adoption, error rate, time
saved and cost per task, net € per exposed person, what the decision rule says of it), and the
decision in words.

Every figure is the comparison's (app/services/kpi_reads/variant_figures.py, the one KPI module's
app/kpi/variants.py); this module only lays them out, as the Compare variants page does.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.db import db, utcnow
from app.errors import LiftoffError
from app.formats import euro, pct
from app.models import Feature, FeatureVariant
from app.months import month_bounds
from app.services.kpi_reads import variant_figures

# The figures of a variant row, in the order the exports write them (machine names; the workbook
# and the CSV's human headers name them for people).
FIGURES = ("weight", "exposed_users", "ai_tasks", "adoption_rate", "error_rate",
           "time_saved_per_task_minutes", "cost_per_task_eur", "net_eur_per_exposed_person")
FIELDS = ("feature", "name", "variant", *FIGURES, "decision")
OBJECTIVE_WORDS = {"cost_per_task": "lower cost per task",
                   "net_eur_per_person": "higher net € per exposed person"}


def window(month: str) -> tuple[date, date]:
    """The month's days, up to today inside the current month (no empty future days)."""
    start, end = month_bounds(month)
    return start, max(start, min(end, utcnow().date()))


def _verdict(comparison: dict, record: dict) -> str:
    """What the decision rule says of one variant, in a few words."""
    if record["suppressed"]:
        return "not shown: fewer than 5 people, or to protect a smaller group"
    decision = comparison["decision"]
    if decision["rule"] is None:
        return "no decision rule"
    name = record["variant"]
    if name == comparison["control"]:
        return "control"
    if name == decision["winner"]:
        return "winner: meets the rule"
    return "meets the rule" if name in decision["meets"] else "does not meet the rule"


def decision_words(comparison: dict) -> str:
    """The decision as a sentence for the board: the rule, and which variant meets it with the
    figures that decide it (promotion stays a person's decision)."""
    decision, control = comparison["decision"], comparison["control"]
    rule = decision["rule"]
    if rule is None:
        return f"No decision rule is set; {control} is the control the others are compared with."
    goal = OBJECTIVE_WORDS.get(rule["objective"], rule["objective"])
    said = (f"Rule: error rate at most {rule['max_error_rate_increase'] * 100:.1f} points worse than "
            f"{control}, and {goal}, each with its 95 % interval.")
    winner = decision["winner"]
    if winner is None:
        return f"{said} No variant meets it yet: keep the split, or wait for more people."
    figures = {v["variant"]: v for v in comparison["variants"]}
    won, base = figures[winner], figures[control]
    net = "net_eur_per_exposed_person"
    return (f"{said} {winner} meets it: cost per task {euro(won['cost_per_task_eur'], 3)} against "
            f"{euro(base['cost_per_task_eur'], 3)}, error rate {pct(won['error_rate'], 1)} against "
            f"{pct(base['error_rate'], 1)}, net per exposed person {euro(won[net], 2)} against "
            f"{euro(base[net], 2)}. Promoting it is the product team's call.")


def comparisons(month: str) -> list[dict]:
    """The month's comparison of every feature with variants (by key), each with its ``name``;
    a feature whose comparison cannot be made (its control gone) is left out."""
    start, end = window(month)
    features = db.session.execute(
        select(Feature.key, Feature.name).where(Feature.id.in_(select(FeatureVariant.feature_id)))
        .order_by(Feature.key)).all()
    out = []
    for key, name in features:
        try:
            out.append({**variant_figures.comparison(key, start, end), "name": name})
        except LiftoffError:
            continue
    return out


def rows(found: list[dict]) -> list[dict]:
    """One record per variant of ``comparisons``' features: FIELDS, suppressed figures as None."""
    out = []
    for comparison in found:
        for record in comparison["variants"]:
            hidden = record["suppressed"]
            figures = {f: (None if hidden and f not in ("weight",) else record.get(f)) for f in FIGURES}
            out.append({"feature": comparison["feature"], "name": comparison["name"],
                        "variant": record["variant"], **figures, "decision": _verdict(comparison, record)})
    return out


def csv_group_rows(header: list[str], roi_rows: list[list],
                   found: list[dict]) -> tuple[list[str], list[list]]:
    """The ROI CSV's rows with each feature's variants as a group of rows right below its row.

    Variant figures go in columns of their own (``variant``, ``variant_weight`` ...), left empty on
    the feature and TOTAL rows, and a variant row leaves the ROI columns empty: a column summed over
    the file still gives the ROI's total, and no ROI column changes meaning.
    """
    extra = ["variant", *[f"variant_{f}" for f in (*FIGURES, "decision")]]
    by_feature: dict[str, list[dict]] = {}
    for record in rows(found):
        by_feature.setdefault(record["feature"], []).append(record)
    at = {name: i for i, name in enumerate(header)}
    out = []
    for row in roi_rows:
        out.append([*row, *[None] * len(extra)])
        for record in by_feature.get(row[at["feature"]], []):
            line: list = [None] * len(header)
            for field in ("month", "feature", "name"):
                line[at[field]] = row[at[field]]
            out.append([*line, record["variant"], *[record[f] for f in (*FIGURES, "decision")]])
    return [*header, *extra], out

"""Rendering of the Compare variants page: tables, charts and the decision (figures come from
dashboards.variants.data; nothing here computes a KPI)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from dash import html

from app.formats import euro, num, pct
from dashboards.kpi import view as kv
from dashboards.shell import components as ui

COLOURS = [kv.BRAND, kv.GOOD, kv.WARN, kv.BAD, "#862e9c", "#0b7285"]
FIGURE_NAMES = {
    "adoption_rate": ("Adoption", pct),
    "error_rate": ("Error rate", pct),
    "time_saved_per_task_minutes": ("Minutes saved per task", lambda v: num(v, 2, "min")),
    "cost_per_task_eur": ("Cost per task", lambda v: euro(v, 3)),
    "net_eur_per_exposed_person": ("Net € per exposed person", lambda v: euro(v, 2)),
}


def _hidden(record: dict, field: str, fmt) -> str:
    if record["suppressed"]:
        return (
            kv.FEWER_THAN_5
            if record["exposed_users"] is None or record["exposed_users"] < 5
            else kv.PROTECTS_SMALLER
        )
    return fmt(record[field])


def figures_table(comparison: dict) -> html.Div:
    rows = pd.DataFrame(comparison["variants"])
    columns = [
        ("variant", "Variant"),
        ("weight", "Weight now"),
        ("exposed_users", "Exposed"),
        ("ai_tasks", "AI tasks"),
    ] + [(f, name) for f, (name, _) in FIGURE_NAMES.items()]
    # Callable[..., str]: the per-figure renderers below bind their field and format as defaults.
    render: dict[str, Callable[..., str]] = {
        "weight": lambda r: f"{r['weight']} %",
        "exposed_users": lambda r: kv.FEWER_THAN_5 if r["suppressed"] else ui.number(r["exposed_users"]),
        "ai_tasks": lambda r: _hidden(r, "ai_tasks", ui.number),
    }
    for field, (_, fmt) in FIGURE_NAMES.items():
        render[field] = lambda r, field=field, fmt=fmt: _hidden(r, field, fmt)
    return ui.table(
        rows,
        columns,
        render=render,
        table_id="variants-figures",
        numeric=[c for c, _ in columns if c != "variant"],
    )


def _difference_cell(diff: dict, fmt) -> html.Span:
    if diff["difference"] is None:
        return html.Span("—")
    text = fmt(diff["difference"])
    if diff["ci_low"] is not None:
        text += f" [{fmt(diff['ci_low'])} to {fmt(diff['ci_high'])}]"
    badge = ui.badge("excludes 0", "complete") if diff["excludes_zero"] else ui.badge("includes 0", "off")
    return html.Span([text, " ", badge])


def differences_table(comparison: dict) -> html.Div | html.Table:
    control = comparison["control"]
    rows = [{"variant": name, **diffs} for name, diffs in comparison["differences"].items()]
    if not rows:
        return ui.empty_state(
            "Nothing to compare yet.",
            f"Another variant than {control} needs 5 or more exposed people.",
            state_id="variants-no-differences",
        )
    formats = {
        "adoption_rate": lambda v: f"{v * 100:+.1f} pts",
        "error_rate": lambda v: f"{v * 100:+.1f} pts",
        "time_saved_per_task_minutes": lambda v: f"{v:+.2f} min",
        "cost_per_task_eur": lambda v: f"{v:+.3f} €",
        "net_eur_per_exposed_person": lambda v: f"{v:+.2f} €",
    }
    columns = [("variant", f"Variant − {control}")] + [(f, name) for f, (name, _) in FIGURE_NAMES.items()]
    render = {f: (lambda r, f=f: _difference_cell(r[f], formats[f])) for f in FIGURE_NAMES}
    return ui.table(pd.DataFrame(rows), columns, render=render, table_id="variants-differences")


def sample_ratio(comparison: dict) -> html.Div:
    srm = comparison["sample_ratio"]
    names = list(srm["observed"])
    frame = pd.DataFrame(
        {
            "variant": names,
            "observed": [srm["observed"][n] for n in names],
            "expected": [srm["expected"][n] for n in names],
            "sdk": [srm["sdk_counts"].get(n, 0) for n in names],
        }
    )
    verdict = (
        ui.badge("sample ratio mismatch (p < 0.001)", "failed")
        if srm["mismatch"]
        else ui.badge("split as weighted", "complete")
    )
    p = "—" if srm["p_value"] is None else f"{srm['p_value']:.4f}"
    return html.Div(
        [
            html.P(
                [
                    verdict,
                    html.Span(
                        f" chi-square p = {p}. Exposed now against the weights; the SDKs' own "
                        "answers per variant in the window beside them.",
                        className="lo-muted",
                    ),
                ],
                id="variants-srm-verdict",
            ),
            ui.table(
                frame,
                [
                    ("variant", "Variant"),
                    ("observed", "Exposed now"),
                    ("expected", "Expected"),
                    ("sdk", "SDK answers"),
                ],
                table_id="variants-srm",
                numeric=["observed", "expected", "sdk"],
                render={"expected": lambda r: num(r["expected"], 1)},
            ),
        ]
    )


def decision(comparison: dict) -> html.Div:
    got, needed = comparison["decision"], comparison["people_needed_per_variant"]
    parts = []
    if got["rule"] is None:
        parts.append(
            html.P(
                "No decision rule for this control. Set one with PUT /api/v1/features/{key}/"
                "variants (rule: control, max_error_rate_increase, objective).",
                className="lo-muted",
            )
        )
    else:
        rule = got["rule"]
        goal = (
            "lower cost per task"
            if rule["objective"] == "cost_per_task"
            else "higher net € per exposed person"
        )
        parts.append(
            html.P(
                f"Rule: error rate at most {rule['max_error_rate_increase'] * 100:.1f} points worse "
                f"than {rule['control']}, and {goal}, each with its 95 % interval."
            )
        )
        parts.append(
            html.P(
                f"Winner: {got['winner']}" if got["winner"] else "No variant meets the rule yet.",
                className="lo-strong",
                id="variants-winner",
            )
        )
    if needed:
        adoption = needed["adoption"]
        net = needed["net_eur_per_exposed_person"]
        parts.append(
            html.P(
                f"People needed per variant (80 % power): {ui.number(adoption) if adoption else '—'} to see "
                f"{needed['adoption_difference'] * 100:.0f} points of adoption; "
                f"{ui.number(net) if net else '—'} to see {euro(needed['net_eur_difference'], 2)} "
                "net per person.",
                className="lo-muted",
                id="variants-power",
            )
        )
    return html.Div(parts)


def trend_figure(weekly: pd.DataFrame, field: str, title: str, fmt: str, marks) -> dict:
    data = []
    for i, (name, part) in enumerate(weekly.groupby("variant")):
        part = part.sort_values("week")
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": str(name),
                "x": [str(w) for w in part["week"]],
                "y": [None if pd.isna(v) else v for v in part[field]],
                "line": {"color": COLOURS[i % len(COLOURS)]},
            }
        )
    weeks = sorted(weekly["week"]) if len(weekly) else [None]
    shapes, notes = kv.rollout_lines(list(marks), weeks[0], weeks[-1])
    return {
        "data": data,
        "layout": {
            "xaxis": {"title": {"text": "week starting"}, "type": "date", "tickformat": "%b %d"},
            "yaxis": {"title": {"text": title}, "tickformat": fmt, "rangemode": "tozero"},
            "shapes": shapes,
            "annotations": notes,
        },
    }


def cost_figure(comparison: dict) -> dict:
    shown = [v for v in comparison["variants"] if not v["suppressed"] and v["cost_per_task_eur"] is not None]
    return {
        "data": [
            {
                "type": "bar",
                "x": [v["variant"] for v in shown],
                "y": [v["cost_per_task_eur"] for v in shown],
                "marker": {"color": kv.BRAND},
                "text": [euro(v["cost_per_task_eur"], 3) for v in shown],
                "textposition": "auto",
            }
        ],
        "layout": {
            "showlegend": False,
            "yaxis": {"title": {"text": "€ per AI task"}, "rangemode": "tozero"},
            "xaxis": {"type": "category"},
        },
    }

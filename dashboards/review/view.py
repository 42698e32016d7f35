"""How the review page shows an item and the review figures."""

from __future__ import annotations

from dash import html

from dashboards.shell import components as ui


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def figures(quality: dict) -> html.Div:
    """The reviewed error rate with its interval beside the reviewers' agreement."""
    rate = quality["reviewed_error_rate"]
    interval = (f"95 % interval {percent(quality['reviewed_error_rate_ci_low'])} – "
                f"{percent(quality['reviewed_error_rate_ci_high'])}" if rate is not None
                else "no assessed item yet")
    agreement = quality["agreement"]
    kappa = "—" if agreement["kappa"] is None else f"{agreement['kappa']:.2f}"
    return html.Div([
        ui.tile("Reviewed error rate", percent(rate), interval, tile_id="review-error-rate"),
        ui.tile("Reviewed items", ui.number(quality["reviewed_items"]),
                f"{quality['corrected']} corrected, {quality['wrong']} wrong, "
                f"{quality['not_assessable']} not assessable", tile_id="review-reviewed"),
        ui.tile("Agreement (Cohen's kappa)", kappa,
                f"{agreement['items']} item(s) labelled by two reviewers", tile_id="review-kappa"),
    ], className="lo-tiles")


def item_card(item: dict, waiting: int) -> html.Div:
    """An AI output to label; texts go to the page as text nodes (React escapes them)."""
    facts = [f"Task {item['task']}", f"{item['occurred_at'][:10]}",
             item["department"] or "no department", f"model {item['model_version'] or '—'}",
             f"user outcome: {item['outcome']}"]
    second = [ui.badge("second review", "live")] if item["labels"] else []
    body = [
        html.P([" · ".join(facts), " ", *second], className="lo-muted", id="review-item-facts"),
        html.H3("AI output", className="lo-subtitle"),
        html.Pre(item["output"] or "(blanked: retention or erasure)", className="lo-pre",
                 id="review-item-output"),
    ]
    if item["correction"]:
        body += [html.H3("The user's own correction", className="lo-subtitle"),
                 html.Pre(item["correction"], className="lo-pre", id="review-item-correction")]
    body.append(html.P(f"{waiting} item(s) waiting for you, this one included.", className="lo-muted",
                       id="review-waiting"))
    return html.Div(body)

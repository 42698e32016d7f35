"""The board report's charts as PNG images, drawn by matplotlib without a display (Agg).

Each function takes the executive view's monthly history (app.services.reporting.board_report) and returns
PNG bytes sized for a column of an A4 page; every axis carries its unit.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on a server; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

BRAND, GOOD, BAD, MUTED = "#2d5be3", "#1b8a5a", "#c0392b", "#6b7280"
WIDTH_IN, HEIGHT_IN, DPI = 7.0, 2.6, 200


def _euros(value, _position) -> str:
    sign = "−" if value < 0 else ""
    value = abs(value)
    if value >= 1000:
        return f"{sign}€{value / 1000:,.0f}k" if value >= 10000 else f"{sign}€{value / 1000:,.1f}k"
    return f"{sign}€{value:,.0f}"


def _figure(title: str):
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold", color="#111827")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8, colors="#374151")
    return fig, ax


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=DPI)
    plt.close(fig)
    return out.getvalue()


def cumulative_net(history: pd.DataFrame, payback: str | None) -> bytes:
    """Cumulative net by month with the zero line, and the payback month marked."""
    fig, ax = _figure("Cumulative net and payback (€)")
    months, values = list(history["month"]), [float(v) for v in history["cumulative_net_eur"]]
    ax.axhline(0, color=MUTED, linewidth=1)
    ax.fill_between(range(len(months)), values, 0, where=[v >= 0 for v in values], color=GOOD,
                    alpha=0.15, interpolate=True)
    ax.fill_between(range(len(months)), values, 0, where=[v < 0 for v in values], color=BAD,
                    alpha=0.12, interpolate=True)
    ax.plot(range(len(months)), values, color=BRAND, marker="o", markersize=4, linewidth=2)
    if payback in months:
        x = months.index(payback)
        ax.annotate(f"payback {payback}", (x, values[x]), xytext=(0, 18), textcoords="offset points",
                    ha="center", fontsize=8, color=GOOD, arrowprops={"arrowstyle": "->", "color": GOOD})
    ax.set_xticks(range(len(months)), months)
    ax.set_ylabel("cumulative net (€)", fontsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(_euros))
    return _png(fig)


def value_against_cost(history: pd.DataFrame) -> bytes:
    """Value and cost side by side per month, in euros."""
    fig, ax = _figure("Value against cost by month (€)")
    x = range(len(history))
    ax.bar([i - 0.2 for i in x], history["value_eur"].astype(float), width=0.4, color=GOOD, label="Value")
    ax.bar([i + 0.2 for i in x], history["cost_eur"].astype(float), width=0.4, color=BAD, label="Cost")
    ax.set_xticks(list(x), list(history["month"]))
    ax.set_ylabel("€ per month", fontsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(_euros))
    # Above the plot, right of the title: never on top of a bar.
    ax.legend(fontsize=8, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2)
    return _png(fig)


def adoption_trend(history: pd.DataFrame) -> bytes:
    """The portfolio's adoption rate by month (months nobody was exposed are left out)."""
    fig, ax = _figure("Adoption by month (% of exposed people who used a feature)")
    months = list(history["month"])
    points = [(i, float(v)) for i, v in enumerate(history["adoption"]) if v is not None and v == v]
    if points:
        ax.plot([p[0] for p in points], [p[1] for p in points], color=BRAND, marker="o", markersize=4,
                linewidth=2)
    ax.set_xticks(range(len(months)), months)
    ax.set_ylim(0, 1.08)  # room for a 100 % point
    ax.set_ylabel("adoption (%)", fontsize=8)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return _png(fig)

"""The executive's period card (dashboards.kpi.period_view): which months a preset covers, the period
before it, and the sums and changes, on a hand-made monthly history."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboards.kpi import period_view as pv

HISTORY = pd.DataFrame({
    "month": ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"],
    "value_eur": [100.0, 200.0, 300.0, 400.0, 600.0],
    "cost_eur": [100.0, 100.0, 100.0, 200.0, 200.0],
    "hours_saved": [1.0, 2.0, 3.0, 4.0, 6.0],
})


@pytest.mark.parametrize(("preset", "months", "before"), [
    ("month", ["2026-10"], ["2026-09"]),
    ("last", ["2026-09"], ["2026-08"]),
    ("quarter", ["2026-10"], ["2026-09"]),  # October opens Q4
    ("ytd", [f"2026-{m:02d}" for m in range(1, 11)], [f"2025-{m:02d}" for m in range(3, 13)]),
    ("bogus", ["2026-10"], ["2026-09"]),
])
def test_presets_and_the_period_before(preset, months, before):
    assert pv.period_months(preset, "2026-10") == (months, before)


def test_a_quarter_to_date_spans_its_months_and_the_year_turns():
    assert pv.period_months("quarter", "2026-08") == (["2026-07", "2026-08"], ["2026-05", "2026-06"])
    assert pv.period_months("last", "2026-01") == (["2025-12"], ["2025-11"])


def test_sums_roi_and_changes():
    now = pv.period_figures(HISTORY, ["2026-09", "2026-10"])
    # value 400 + 600, cost 200 + 200, net 600, ROI 600 / 400 = 150 %, hours 10
    assert now == {"value_eur": 1000.0, "cost_eur": 400.0, "net_eur": 600.0, "roi_pct": 150.0,
                   "hours_saved": 10.0}
    before = pv.period_figures(HISTORY, ["2026-07", "2026-08"])  # 500 - 200 = 300, ROI 150 %
    assert before["net_eur"] == 300.0 and before["roi_pct"] == 150.0
    assert pv._change(now["net_eur"], before["net_eur"]) == "+100 % against the period before"
    assert pv._change(now["roi_pct"], before["roi_pct"], points=True) == "+0 points against the period before"
    assert pv._change(5.0, None) == "no earlier period to compare"
    assert pv.period_figures(HISTORY, ["2025-01"]) is None

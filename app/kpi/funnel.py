"""The adoption funnel of a window: exposed -> tried -> active -> habitual, among the people
exposed in it. Its stages are the KPI record's own sets (``exposed``, ``active_people``, the habit
cohorts), so the funnel and the headline figures cannot disagree on who is active."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from app.kpi.exposure import day_start
from app.kpi.stats import ratio
from app.kpi.window import WindowInputs, active_people

FUNNEL_STAGES = ("Exposed", "Tried", "Active", "Habitual")


def adoption_funnel(inputs: WindowInputs, record: dict) -> pd.DataFrame:
    """Per stage, the people exposed in the window who reached it, and their share of the exposed.

    Tried: a first AI use by the window's end. Active: ``active_people``. Habitual: the daily and
    weekly habit cohorts of ``record`` (a ``kpi_record`` of the same inputs).
    """
    exposed = inputs.exposed
    used = inputs.first_use_at
    tried = set(used.index[(used < day_start(inputs.end + timedelta(days=1))).to_numpy()].astype(int))
    active = active_people(inputs.active_days)
    counts = [len(exposed), len(exposed & tried), len(exposed & active),
              int(record["habit"]["daily"] + record["habit"]["weekly"])]
    frame = pd.DataFrame({"stage": list(FUNNEL_STAGES), "people": counts})
    frame["share_of_exposed"] = [ratio(c, counts[0]) for c in counts]
    return frame

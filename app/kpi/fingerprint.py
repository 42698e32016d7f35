"""The fingerprint of the inputs a month's ROI depends on. A close stores it; a later answer with
another fingerprint is a restatement (KPI_DEFINITIONS.md). Pure, like the rest of the KPI module:
the close (app/services/reporting/closes.py) and the live ROI read (app/services/kpi_reads) both
compute it here, the one scheme."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from app.kpi.money import MoneyInputs

# Float sums of the same events can differ in the last bits with the summation order of an
# incremental versus a full rebuild; rounding keeps such noise from looking like a restatement.
_DECIMALS = 6
EVENT_COST_SUMS = ("ai_cost_n", "ai_cost_eur")


def _canonical(frame: pd.DataFrame) -> str:
    """An order-free digest of the frame's rows, floats rounded (vectorised row hashes)."""
    if frame.empty:
        return ""
    frame = frame.reset_index(drop=True).copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].round(_DECIMALS)
        elif not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(str)
    rows = np.sort(pd.util.hash_pandas_object(frame[sorted(frame.columns)], index=False).to_numpy())
    return hashlib.sha256(rows.tobytes()).hexdigest()


def fingerprint(inputs: MoneyInputs) -> str:
    """SHA-256 of the inputs the monthly ROI depends on (sums, costs, and the baselines, rates and
    feature terms that apply to them): a new department or feature alone is no restatement."""
    sums, costs = inputs.sums, inputs.costs
    event_costs = [c for c in EVENT_COST_SUMS if c in sums.columns]
    if not sums[event_costs].to_numpy().any():
        # Months closed before events carried their own cost (migration 0010) keep their
        # fingerprint: columns that are all zero are left out, as they were then.
        sums = sums.drop(columns=event_costs)
    features = set(sums["feature_id"].astype(int)) | set(costs["feature_id"].astype(int))
    tasks = {(int(f), str(t)) for f, t in zip(sums["feature_id"], sums["task"], strict=True)}
    departments = set(sums["department_id"].astype(int))
    terms = inputs.features[inputs.features["feature_id"].astype(int).isin(features)]
    payload = {
        "sums": _canonical(sums),
        "features": _canonical(terms.drop(columns=["baseline_days"], errors="ignore")),
        "costs": _canonical(costs),
        "baselines": sorted([f, t, round(m, _DECIMALS)] for f, per_task in inputs.baselines.items()
                            for t, m in per_task.items() if (f, t) in tasks),
        "rates": sorted([d, r] for d, r in inputs.rates.items() if d in departments),
        "default_rate": inputs.default_rate if 0 in departments else None,
    }
    if inputs.variant_tasks is not None and not inputs.variant_tasks.empty:
        # Only when a variant is priced: months closed before variants keep their fingerprint.
        payload["variant_tasks"] = _canonical(inputs.variant_tasks)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

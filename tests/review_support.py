"""A feature live at stage 1 for review tests: people in two departments (through the API, so their
department history is recorded), AI events with outputs spread over them."""

from __future__ import annotations

from datetime import timedelta

from app.db import utcnow

SALES, OPS = 6, 4


def live_world(client, headers, events_per_person: int = 5, key: str = "f") -> dict:
    """People s1..s6 (Sales) and o1..o4 (Ops); feature ``key`` at stage 1 (everyone) since 20 days;
    ``events_per_person`` AI events with an output each, 1-5 days ago, and one without an output."""
    people = [{"person_id": f"s{i}", "department": "Sales"} for i in range(1, SALES + 1)] + \
             [{"person_id": f"o{i}", "department": "Ops"} for i in range(1, OPS + 1)]
    assert client.post("/api/v1/people", json=people, headers=headers).status_code == 200
    feature = {"key": key, "name": "Drafts", "stages": [{"name": "All", "cohorts": [], "percentage": 100},
                                                        {"name": "More", "cohorts": [], "percentage": 100}]}
    assert client.post("/api/v1/features", json=feature, headers=headers).status_code == 201
    started = (utcnow() - timedelta(days=20)).isoformat()
    assert client.post(f"/api/v1/features/{key}/advance", json={"effective_at": started},
                       headers=headers).status_code == 200
    events = []
    for p in people:
        for n in range(events_per_person):
            events.append({"event_id": f"{key}-{p['person_id']}-{n}", "feature": key,
                           "person_id": p["person_id"], "ai_assisted": True, "outcome": "success",
                           "occurred_at": (utcnow() - timedelta(days=1 + n % 5)).isoformat(),
                           "output": f"answer {n} for {p['person_id']}", "model_version": "m1"})
    events.append({"event_id": f"{key}-no-output", "feature": key, "person_id": "s1", "ai_assisted": True,
                   "outcome": "success", "occurred_at": (utcnow() - timedelta(days=1)).isoformat()})
    response = client.post("/api/v1/events", json=events, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {"people": people, "events": events}

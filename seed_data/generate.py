"""Generate the demo company in this directory, deterministically (fixed seed, fixed dates).

    .venv/bin/python seed_data/generate.py [OUT_DIR]

Writes departments.csv, people.csv, cohorts.csv, features.json (the POST /api/v1/features bodies
and each rollout's back-dated history), events.csv.gz, costs.csv and baselines.csv. The story is in
docs/demo-company.md. Running it twice writes the same bytes; tests/test_seed_generator.py checks
that the committed files are what this script writes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from UnleashClient.utils import normalized_hash

SEED = 20260501
HISTORY_START = date(2026, 5, 1)
HISTORY_END = date(2026, 10, 31)
EMAIL_DOMAIN = "northwind-demo.example"

# name, hourly rate in euros (fully loaded), head count
DEPARTMENTS = [
    ("Sales", 58.0, 42),
    ("Customer Support", 38.0, 48),
    ("Human Resources", 52.0, 16),
    ("Engineering", 78.0, 40),
    ("Finance", 62.0, 18),
    ("Marketing", 55.0, 22),
    ("Operations", 45.0, 26),
    ("Legal", 85.0, 8),
]
TIER1_AGENTS = 32  # the first 32 of Customer Support answer Tier-1 tickets
RECRUITERS = 9  # the first 9 of Human Resources screen CVs

FIRST = ("Anna Ben Clara David Elena Felix Greta Hugo Ines Jonas Katrin Lukas Marta Niklas Olga Paul "
         "Rosa Simon Tanja Ugo Vera Wim Xenia Yusuf Zoe Amir Birgit Carlos Dana Emil Fatima Georg "
         "Hanna Ivan Julia Karim Lea Mats Nora Oskar Pia Rafael Sara Tom Ulla Viktor").split()
LAST = ("Müller Schmidt Janssen Rossi García Novak Dubois Berg Costa Nowak Lindqvist Horvat Peeters "
        "Keller Moreau Fischer Romano Silva Kowalski Andersen Weber Meyer Bianchi Santos Larsen "
        "Wagner Ferrari Martin Hoffmann Kovač Virtanen Popescu Schulz Leroy Esposito").split()
ASCII = str.maketrans({"ü": "ue", "í": "i", "č": "c", "é": "e", "ö": "oe", "ä": "ae"})


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


# The three features, their stage plans and the dates their rollouts actually moved.
FEATURES = [
    {
        "spec": {
            "key": "quote-assistant",
            "name": "Quote-generation assistant",
            "description": "Drafts customer quotes from the CRM opportunity, price list and past "
            "quotes; a standard quote takes about 45 minutes by hand.",
            "baseline_days": 28,
            "estimated_minutes_saved": 18.0,
            "per_event_cost_eur": 0.0,
            "stages": [
                {"name": "Champions", "cohorts": ["sales-champions"], "percentage": 0},
                {"name": "Pilot", "cohorts": ["sales-pilot"], "percentage": 0},
                {"name": "All of Sales", "cohorts": ["sales"], "percentage": 0},
            ],
        },
        "history": [
            {"action": "advance", "effective_at": at("2026-06-01"), "reason": "champions start"},
            {"action": "advance", "effective_at": at("2026-06-29"),
             "reason": "champions save ~40 % per quote, error rate at baseline"},
            {"action": "advance", "effective_at": at("2026-08-03"), "reason": "pilot gate passed"},
        ],
    },
    {
        "spec": {
            "key": "knowledge-assistant",
            "name": "Support knowledge assistant",
            "description": "Retrieval-based assistant over the help centre and past tickets that "
            "drafts answers to Tier-1 support tickets; later opened to every employee.",
            "baseline_days": 28,
            "estimated_minutes_saved": 5.0,
            "per_event_cost_eur": 0.0,
            "stages": [
                {"name": "Champions", "cohorts": ["support-champions"], "percentage": 0},
                {"name": "Pilot", "cohorts": ["support-pilot"], "percentage": 0},
                {"name": "Tier-1 support", "cohorts": ["support-tier1"], "percentage": 0},
                {"name": "Ramp 25 %", "cohorts": [], "percentage": 25},
                {"name": "Everyone", "cohorts": [], "percentage": 100},
            ],
        },
        "history": [
            {"action": "advance", "effective_at": at("2026-06-15"), "reason": "champions start"},
            {"action": "advance", "effective_at": at("2026-07-13"), "reason": "answers rated useful"},
            {"action": "advance", "effective_at": at("2026-08-10"), "reason": "pilot gate passed"},
            {"action": "advance", "effective_at": at("2026-09-07"),
             "reason": "open the knowledge base to a quarter of the company"},
            {"action": "advance", "effective_at": at("2026-10-05"), "reason": "ramp stable"},
        ],
    },
    {
        "spec": {
            "key": "cv-screening-assistant",
            "name": "CV-screening assistant",
            "description": "Summarises applications against the job profile and proposes a "
            "shortlist for the recruiter to confirm.",
            "baseline_days": 28,
            "estimated_minutes_saved": 6.0,
            "per_event_cost_eur": 0.0,
            "stages": [
                {"name": "Champions", "cohorts": ["hr-champions"], "percentage": 0},
                {"name": "Pilot", "cohorts": ["hr-pilot"], "percentage": 0},
                {"name": "All of HR", "cohorts": ["hr"], "percentage": 0},
            ],
        },
        "history": [
            {"action": "advance", "effective_at": at("2026-07-01"), "reason": "champion starts"},
            {"action": "advance", "effective_at": at("2026-07-27"), "reason": "shortlists match"},
            {"action": "advance", "effective_at": at("2026-08-31"), "reason": "pilot gate passed"},
            {"action": "kill", "effective_at": at("2026-09-21", 14),
             "reason": "bias review after a candidate complaint"},
            {"action": "resume", "effective_at": at("2026-10-02"),
             "reason": "review found no bias; prompt now hides names and photos"},
        ],
    },
]

# Adoption S-curves by cohort group: ceiling, days to half the ceiling, steepness (days).
ADOPTION = {"champion": (0.93, 4, 2.0), "pilot": (0.82, 10, 3.5), "general": (0.72, 20, 6.0)}
# Share of AI outputs with errors / needing corrections, by cohort group.
AI_QUALITY = {"champion": (0.02, 0.03), "pilot": (0.03, 0.04), "general": (0.04, 0.05)}


@dataclass(eq=False)
class Task:
    feature: str
    task: str
    per_day: float
    manual_minutes: float | None  # None: no manual equivalent is recorded
    ai_minutes: float
    manual_quality: tuple[float, float]  # error, corrected
    ai_quality_factor: float = 1.0
    missing_duration: float = 0.08
    department_speed: dict[str, float] = field(default_factory=dict)


QUOTE = Task("quote-assistant", "quote", 1.2, 45.0, 27.0, (0.04, 0.05))
TICKET = Task("knowledge-assistant", "tier1-ticket", 5.0, 14.0, 9.5, (0.05, 0.05))
CV = Task("cv-screening-assistant", "screen-cv", 3.0, 12.0, 5.0, (0.03, 0.03), ai_quality_factor=1.6)
QUESTION = Task(
    "knowledge-assistant", "internal-question", 0.35, None, 3.0, (0.0, 0.0), missing_duration=0.5,
    department_speed={"Engineering": 0.8, "Legal": 1.4, "Finance": 1.1},
)


@dataclass(eq=False)
class Person:
    person_id: str
    name: str
    email: str
    department: str
    speed: float  # multiplies every duration of this person
    uptake: float  # multiplies the adoption ceiling (some never take it up)
    group: dict[str, str] = field(default_factory=dict)  # feature -> champion/pilot/general


def make_people(rng: random.Random) -> list[Person]:
    people, seen_emails = [], Counter()
    number = 1001
    for department, _rate, size in DEPARTMENTS:
        for _ in range(size):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            local = f"{first}.{last}".lower().translate(ASCII)
            seen_emails[local] += 1
            if seen_emails[local] > 1:
                local += str(seen_emails[local])
            people.append(Person(
                person_id=f"E{number}",
                name=f"{first} {last}",
                email=f"{local}@{EMAIL_DOMAIN}",
                department=department,
                speed=round(math.exp(rng.gauss(0, 0.15)), 3),
                uptake=0.05 if rng.random() < 0.12 else round(rng.uniform(0.8, 1.05), 3),
            ))
            number += 1
    return people


def make_cohorts(rng: random.Random, people: list[Person]) -> dict[str, tuple[str, list[Person]]]:
    sales = [p for p in people if p.department == "Sales"]
    support = [p for p in people if p.department == "Customer Support"]
    tier1 = support[:TIER1_AGENTS]
    hr = [p for p in people if p.department == "Human Resources"]
    recruiters = hr[:RECRUITERS]
    cohorts: dict[str, tuple[str, list[Person]]] = {}

    def pick(pool: list[Person], n: int, taken: list[Person]) -> list[Person]:
        # Champions and pilots volunteered: keep the never-adopters out of them.
        keen = [p for p in pool if p not in taken and p.uptake > 0.5]
        return sorted(rng.sample(keen, n), key=lambda p: p.person_id)

    for prefix, pool, n_champ, n_pilot, feature in (
        ("sales", sales, 2, 8, QUOTE.feature),
        ("support", tier1, 2, 8, TICKET.feature),
        ("hr", recruiters, 1, 3, CV.feature),
    ):
        champions = pick(pool, n_champ, [])
        pilot = pick(pool, n_pilot, champions)
        for p in champions:
            p.group[feature] = "champion"
        for p in pilot:
            p.group[feature] = "pilot"
        label = {"sales": "Sales", "support": "Support", "hr": "HR"}[prefix]
        cohorts[f"{prefix}-champions"] = (f"{label} AI champions", champions)
        cohorts[f"{prefix}-pilot"] = (f"{label} pilot group", pilot)
    cohorts["sales"] = ("All of Sales", sales)
    cohorts["support-tier1"] = ("Tier-1 support agents", tier1)
    cohorts["hr"] = ("All of Human Resources", hr)
    all_champions = sorted(
        {p.person_id: p for key in ("sales-champions", "support-champions", "hr-champions")
         for p in cohorts[key][1]}.values(), key=lambda p: p.person_id)
    cohorts["champions"] = ("AI champions (all features)", all_champions)
    return cohorts


def exposure_start(feature: dict, cohorts: dict, person: Person) -> datetime | None:
    """When the rollout first reached this person (stages are cumulative; no rollbacks here)."""
    stages, stage = feature["spec"]["stages"], 0
    for move in feature["history"]:
        if move["action"] != "advance":
            continue
        stage += 1
        members = {p.person_id for s in stages[:stage] for key in s["cohorts"] for p in cohorts[key][1]}
        pct = stages[stage - 1]["percentage"]
        if person.person_id in members or normalized_hash(person.person_id, feature["spec"]["key"]) <= pct:
            return move["effective_at"]
    return None


def killed_spells(feature: dict) -> list[tuple[datetime, datetime]]:
    spells, since = [], None
    for move in feature["history"]:
        if move["action"] == "kill":
            since = move["effective_at"]
        elif move["action"] == "resume" and since is not None:
            spells.append((since, move["effective_at"]))
            since = None
    return spells


def working_days() -> list[date]:
    days, day = [], HISTORY_START
    while day <= HISTORY_END:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def count_today(rng: random.Random, rate: float) -> int:
    whole = int(rate)
    return whole + (1 if rng.random() < rate - whole else 0) + rng.choice((-1, 0, 0, 0, 1)) * (whole > 1)


def make_events(rng: random.Random, people: list[Person], cohorts: dict) -> list[dict]:
    features = {f["spec"]["key"]: f for f in FEATURES}
    doers = {
        QUOTE: cohorts["sales"][1],
        TICKET: cohorts["support-tier1"][1],
        CV: [p for p in cohorts["hr"][1][:RECRUITERS]],
        QUESTION: [p for p in people if p not in cohorts["support-tier1"][1]],
    }
    starts = {(key, p.person_id): exposure_start(f, cohorts, p)
              for key, f in features.items() for p in people}
    kills = {key: killed_spells(f) for key, f in features.items()}
    events = []
    for day in working_days():
        for task, workers in doers.items():
            for person in workers:
                start = starts[(task.feature, person.person_id)]
                if task.manual_minutes is None and (start is None or start.date() > day):
                    continue  # questions to the knowledge base only exist once it is there
                for _ in range(count_today(rng, task.per_day * (0.6 if task is QUESTION else 1.0))):
                    when = datetime(day.year, day.month, day.day, 7, tzinfo=UTC) + timedelta(
                        seconds=rng.randrange(10 * 3600))
                    events.append(one_event(rng, task, person, when, start, kills[task.feature]))
    events = [e for e in events if e is not None]
    events.sort(key=lambda e: (e["occurred_at"], e["feature"], e["person_id"]))
    short = {"quote-assistant": "qa", "knowledge-assistant": "ka", "cv-screening-assistant": "cv"}
    numbers: Counter = Counter()
    for event in events:
        numbers[event["feature"]] += 1
        event["event_id"] = f"seed-{short[event['feature']]}-{numbers[event['feature']]:06d}"
    return events


def one_event(rng, task: Task, person: Person, when: datetime, start, kills) -> dict | None:
    exposed = start is not None and when >= start and not any(a <= when < b for a, b in kills)
    group = person.group.get(task.feature, "general")
    use = False
    days = 0.0
    if exposed:
        days = (when - start).total_seconds() / 86400
        ceiling, half, width = ADOPTION[group]
        use = rng.random() < ceiling * person.uptake / (1 + math.exp(-(days - half) / width))
    if task.manual_minutes is None and not use:
        return None  # nobody logs the questions they did not ask the assistant
    speed = person.speed * task.department_speed.get(person.department, 1.0)
    if use:
        # Early uses are slower while people learn the tool; abandonment fades the same way.
        learning = 1 + 0.35 * math.exp(-days / 12)
        minutes = task.ai_minutes * speed * learning * math.exp(rng.gauss(0, 0.22))
        error, corrected = (q * task.ai_quality_factor for q in AI_QUALITY[group])
        abandoned = 0.02 + 0.10 * math.exp(-days / 20)
    else:
        minutes = task.manual_minutes * speed * math.exp(rng.gauss(0, 0.2))
        error, corrected = task.manual_quality
        abandoned = 0.0
    draw = rng.random()
    if draw < abandoned:
        outcome, minutes = "abandoned", minutes * rng.uniform(0.2, 0.7)
    elif draw < abandoned + error:
        outcome = "error"
    elif draw < abandoned + error + corrected:
        outcome = "corrected"
    else:
        outcome = "success"
    missing = rng.random() < task.missing_duration
    return {
        "feature": task.feature,
        "person_id": person.person_id,
        "occurred_at": when.isoformat(),
        "task": task.task,
        "ai_assisted": "true" if use else "false",
        "duration_seconds": "" if missing else str(round(minutes * 60)),
        "outcome": outcome,
    }


def make_costs(events: list[dict]) -> list[dict]:
    ai_tasks = Counter((e["feature"], e["occurred_at"][:7]) for e in events if e["ai_assisted"] == "true")
    months = [f"2026-{m:02d}" for m in range(5, 11)]
    plans = {  # one-off implementation (month), licence per month from the first live month,
        # tokens per AI task, fixed compute per month (the retrieval index)
        "quote-assistant": ("2026-05", 18000.0, 1200.0, 0.18, 0.0),
        "knowledge-assistant": ("2026-05", 24000.0, 2000.0, 0.04, 350.0),
        "cv-screening-assistant": ("2026-06", 9500.0, 600.0, 0.06, 0.0),
    }
    costs = []
    for feature in FEATURES:
        key = feature["spec"]["key"]
        impl_month, impl, licence, per_task, compute = plans[key]
        live = feature["history"][0]["effective_at"].strftime("%Y-%m")
        costs.append({"feature": key, "month": impl_month, "amount_eur": f"{impl:.2f}",
                      "category": "implementation", "note": "integration and rollout project (one-off)"})
        for month in months:
            if month < live:
                continue
            costs.append({"feature": key, "month": month, "amount_eur": f"{licence:.2f}",
                          "category": "licences", "note": "platform seats"})
            tokens = ai_tasks[(key, month)] * per_task
            if tokens:
                costs.append({"feature": key, "month": month, "amount_eur": f"{tokens:.2f}",
                              "category": "tokens", "note": f"{ai_tasks[(key, month)]} AI tasks"})
            if compute:
                costs.append({"feature": key, "month": month, "amount_eur": f"{compute:.2f}",
                              "category": "compute", "note": "vector index hosting"})
    return costs


BASELINES = [
    {"feature": "quote-assistant", "task": "quote", "minutes_per_task": "45.0", "error_rate": "0.09",
     "source": "Sales ops time-and-motion study (20 quotes)", "measured_at": "2026-05-20T12:00:00+00:00"},
    {"feature": "cv-screening-assistant", "task": "screen-cv", "minutes_per_task": "",
     "error_rate": "0.06", "source": "HR audit of 200 screenings (Q1 2026)",
     "measured_at": "2026-04-15T12:00:00+00:00"},
]


def _csv_text(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def generate(out_dir: Path) -> dict[str, int]:
    """Write every seed file into ``out_dir``; returns how many rows each holds."""
    rng = random.Random(SEED)
    people = make_people(rng)
    cohorts = make_cohorts(rng, people)
    events = make_events(rng, people, cohorts)
    costs = make_costs(events)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "departments.csv": _csv_text(
            [{"name": n, "hourly_rate_eur": f"{r:.2f}"} for n, r, _ in DEPARTMENTS],
            ["name", "hourly_rate_eur"]),
        "people.csv": _csv_text(
            [{"person_id": p.person_id, "name": p.name, "email": p.email, "department": p.department}
             for p in people], ["person_id", "name", "email", "department"]),
        "cohorts.csv": _csv_text(
            [{"cohort_key": key, "person_id": p.person_id, "cohort_name": name}
             for key, (name, members) in cohorts.items() for p in members],
            ["cohort_key", "person_id", "cohort_name"]),
        "costs.csv": _csv_text(costs, ["feature", "month", "amount_eur", "category", "note"]),
        "baselines.csv": _csv_text(
            BASELINES, ["feature", "task", "minutes_per_task", "error_rate", "source", "measured_at"]),
    }
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    features = [
        {"spec": f["spec"],
         "history": [{**move, "effective_at": move["effective_at"].isoformat()} for move in f["history"]]}
        for f in FEATURES
    ]
    (out_dir / "features.json").write_text(json.dumps(features, indent=2, ensure_ascii=False) + "\n")
    columns = ["event_id", "feature", "person_id", "occurred_at", "task", "ai_assisted",
               "duration_seconds", "outcome"]
    with (out_dir / "events.csv.gz").open("wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0
    ) as packed:
        packed.write(_csv_text(events, columns).encode("utf-8"))
    return {"departments": len(DEPARTMENTS), "people": len(people), "cohorts": len(cohorts),
            "features": len(FEATURES), "events": len(events), "costs": len(costs),
            "baselines": len(BASELINES)}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for what, count in generate(target).items():
        print(f"{what}: {count}")

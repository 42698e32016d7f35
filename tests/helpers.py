"""Flat data builders: ``gen_*(**overrides)`` add a row with sensible defaults and flush."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

from app.db import db
from app.models import Cohort, CohortMember, Department, Feature, Person

_seq = itertools.count(1)


def gen_department(name: str | None = None, hourly_rate_eur: float | None = 50.0) -> Department:
    dept = Department(name=name or f"Dept {next(_seq)}", hourly_rate_eur=hourly_rate_eur)
    db.session.add(dept)
    db.session.flush()
    return dept


def gen_person(person_id: str | None = None, department: Department | None = None, **kw) -> Person:
    n = next(_seq)
    person = Person(
        person_id=person_id or f"p{n:05d}",
        name=kw.pop("name", f"Person {n}"),
        email=kw.pop("email", f"person{n}@example.com"),
        department=department,
        **kw,
    )
    db.session.add(person)
    db.session.flush()
    return person


def gen_cohort(key: str | None = None, members: list[Person] = (), **kw) -> Cohort:
    n = next(_seq)
    cohort = Cohort(key=key or f"cohort-{n}", name=kw.pop("name", f"Cohort {n}"), **kw)
    db.session.add(cohort)
    db.session.flush()
    for person in members:
        db.session.add(CohortMember(cohort_id=cohort.id, person_id=person.id))
    db.session.flush()
    return cohort


def gen_feature(key: str | None = None, **kw) -> Feature:
    n = next(_seq)
    feature = Feature(key=key or f"feature-{n}", name=kw.pop("name", f"Feature {n}"), **kw)
    db.session.add(feature)
    db.session.flush()
    return feature


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Served:
    """A socket server (http.server, socketserver or werkzeug) on 127.0.0.1 served from a daemon
    thread for the length of a ``with`` block; ``port`` and ``url`` say where."""

    def serve(self, server) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

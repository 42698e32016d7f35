"""The full rebuild of the KPI rollups on PostgreSQL: both cores, one snapshot.

A full rebuild re-derives about one activity row per event (10^7 a year at 10,000 people). One
INSERT ... SELECT runs on one core, and the department-day sums and first uses after it re-read
those 10^7 rows. Here, while the main transaction inserts the activity rows, a second connection
reading the very same snapshot (``pg_export_snapshot``) sums the department-day rows and the first
uses straight from the events on the other core. Those are few (features x days x departments x
tasks, and features x people), so they are spooled and copied into the main transaction after.

The activity rows are grouped and sorted on one 64-bit key packing feature, day and person (plus
the task, compared bytewise): sorting 10^7 rows on one integer is several times faster than on
four columns with a collation-aware text comparison, and the order is still the primary key's, so
the index grows at its right edge.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select, true
from sqlalchemy.dialects import postgresql

from app.db import db
from app.models import DepartmentMembership, Event, Feature, Person
from app.models.kpi import SUM_COLUMNS
from app.services.rollups.department_at import department_on

# Bits of the packed key: person id (24), day offset (24, biased to allow days before 2000),
# feature id (the 15 left). Ids beyond them fall back to the plain four-column sort.
PERSON_BITS, DAY_BITS, DAY_BIAS = 24, 24, 1 << 23
EPOCH = "DATE '2000-01-01'"
KEY = (f"((events.feature_id::int8 << {PERSON_BITS + DAY_BITS})"
       f" | ((events.occurred_at::date - {EPOCH} + {DAY_BIAS})::int8 << {PERSON_BITS})"
       f" | events.person_id)")
ACTIVITY_COLUMNS = ["feature_id", "day", "person_id", "task", *SUM_COLUMNS, "ai_first_at"]
log = logging.getLogger(__name__)
FEATURE_DAY_COLUMNS = ["feature_id", "day", "department_id", "task", "month", *SUM_COLUMNS]
FIRST_USE_COLUMNS = ["feature_id", "person_id", "first_ai_at"]


def _sql(stmt) -> str:
    """A statement as PostgreSQL text (its only literals are the rollup's own constants)."""
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def _fits_packed_key() -> bool:
    people = db.session.scalar(select(func.max(Person.id))) or 0
    features = db.session.scalar(select(func.max(Feature.id))) or 0
    return people < (1 << PERSON_BITS) and features < (1 << (63 - PERSON_BITS - DAY_BITS))


def _activity_select(event_sums: list) -> str:
    """SELECT of the activity rows in primary-key order, grouped on the packed key."""
    first_ai = func.min(Event.occurred_at).filter(Event.ai_assisted == true())
    sums = ", ".join(f"{_sql(expr)} AS s{i}" for i, expr in enumerate([*event_sums, first_ai]))
    mask = (1 << PERSON_BITS) - 1
    day = f"{EPOCH} + (((k >> {PERSON_BITS}) & {(1 << DAY_BITS) - 1}) - {DAY_BIAS})::int4"
    decoded = f"(k >> {PERSON_BITS + DAY_BITS})::int4, {day}, (k & {mask})::int4, task"
    # Built only from this module's constants and compiled SQLAlchemy expressions: no user input.
    return (f"SELECT {decoded}, {', '.join(f's{i}' for i in range(len(event_sums) + 1))} FROM ("  # noqa: S608
            f"SELECT {KEY} AS k, events.task COLLATE \"C\" AS task, {sums} FROM events"
            " WHERE voided_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2) AS packed")


def _side_selects(event_sums: list) -> tuple[str, str]:
    """What the second connection sums from the events: department-day rows, first uses."""
    day = Event.occurred_at.cast(postgresql.DATE)
    # The department held at the end of the event's day, from the recorded history.
    department = func.coalesce(DepartmentMembership.department_id, 0)
    feature_days = (
        select(Event.feature_id, day, department, Event.task, func.to_char(day, "YYYY-MM"), *event_sums)
        .select_from(Event)
        .outerjoin(DepartmentMembership, department_on(Event.person_id, day, "postgresql"))
        .where(Event.voided_at.is_(None))
        .group_by(Event.feature_id, day, department, Event.task)
    )
    first_uses = (select(Event.feature_id, Event.person_id, func.min(Event.occurred_at))
                  .where(Event.ai_assisted == true(), Event.voided_at.is_(None))
                  .group_by(Event.feature_id, Event.person_id))
    return _sql(feature_days), _sql(first_uses)


class _SideSums(threading.Thread):
    """Runs the side selects on their own connection at ``snapshot`` and spools them (COPY text)."""

    def __init__(self, engine, snapshot: str, selects: tuple[str, str]):
        super().__init__(name="rollup-side-sums", daemon=True)
        self.engine, self.snapshot, self.selects = engine, snapshot, selects
        self.spools: list[io.BytesIO] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            raw = self.engine.raw_connection()
            try:
                pg = raw.driver_connection
                with pg.cursor() as cursor:
                    cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    # The snapshot id comes from the server (pg_export_snapshot), never from a user.
                    cursor.execute(f"SET TRANSACTION SNAPSHOT '{self.snapshot}'")
                    cursor.execute("SET LOCAL work_mem = '256MB'")
                    cursor.execute("SET LOCAL jit = off")
                    for select_sql in self.selects:
                        spool = io.BytesIO()
                        with cursor.copy(f"COPY ({select_sql}) TO STDOUT") as copy:
                            for chunk in copy:
                                spool.write(chunk)
                        self.spools.append(spool)
                pg.rollback()
            finally:
                raw.close()
        except BaseException as error:  # re-raised in the main thread
            self.error = error


def rebuild_all(event_sums: list, plain_activity: Callable[[], int]) -> int:
    """Rebuild kpi_activity_days, kpi_feature_days and kpi_first_use from every event, inside the
    session's transaction (the caller truncated them); kpi_feature_months is left to the caller.

    :param event_sums: the rollup's sum columns as aggregates over ``events`` (SUM_COLUMNS order).
    :param plain_activity: inserts the activity rows without the packed key (ids too large for it).
    :returns: the activity rows written.
    """
    began = time.perf_counter()
    connection = db.session.connection()
    # Fresh statistics of the (small) department history: unanalysed, the planner guesses a handful
    # of rows for the events too and sorts all of them for a merge join (11.6 s instead of 5.2 s
    # of the side sums at 10 M events). A few thousand rows: milliseconds.
    connection.exec_driver_sql("ANALYZE department_memberships")
    # The side connection reads exactly this snapshot. The main transaction is READ COMMITTED, so
    # its INSERT, a few statements later, may also see a batch that committed in between; that
    # batch's dirty days were not read by this refresh, so the next one redoes them in full.
    snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
    assert snapshot is not None, "pg_export_snapshot() always names the snapshot"
    side = _SideSums(db.engine, snapshot, _side_selects(event_sums))
    side.start()
    connection.exec_driver_sql("SET LOCAL jit = off")  # compiling the sums costs more than it saves
    # ~One group per event: a hash table of every group would spill and then be sorted again for
    # the key-ordered insert; one sort feeding the aggregate does both.
    connection.exec_driver_sql("SET LOCAL enable_hashagg = off")
    # That sort holds every event (gigabytes at 50 M): with the sessions' 32 MB the rebuild of 50 M
    # events took 637 s, with 256 MB (as the side connection has) 502 s. Memory for this one
    # statement of this one process, well below the 1 GB a process may take (issue #20).
    connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    try:
        if _fits_packed_key():
            insert = (f"INSERT INTO kpi_activity_days ({', '.join(ACTIVITY_COLUMNS)}) "
                      + _activity_select(event_sums))
            written = connection.exec_driver_sql(insert).rowcount
        else:
            written = plain_activity()
    finally:
        inserted = time.perf_counter()
        side.join()
    connection.exec_driver_sql("SET LOCAL enable_hashagg = on")
    connection.exec_driver_sql("SET LOCAL work_mem TO DEFAULT")  # the session's own again
    log.info("full rebuild: %d activity rows in %.1f s; then waited %.1f s for the side sums",
             written, inserted - began, time.perf_counter() - inserted)
    if side.error is not None:
        raise side.error
    driver = connection.connection.driver_connection
    assert driver is not None, "a connection in use has its driver's connection"
    cursor = driver.cursor()
    targets = (("kpi_feature_days", FEATURE_DAY_COLUMNS), ("kpi_first_use", FIRST_USE_COLUMNS))
    for (table, columns), spool in zip(targets, side.spools, strict=True):
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(spool.getbuffer())
    # Fresh statistics for the reads that follow: left to autovacuum, the planner would take a
    # table of 10^7 rows for empty and sort a month's rows on disk.
    connection.exec_driver_sql("ANALYZE kpi_activity_days, kpi_feature_days, kpi_first_use")
    log.info("full rebuild: department-day rows and first uses copied in, analysed; %.1f s in all",
             time.perf_counter() - began)
    return written

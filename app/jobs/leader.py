"""The scheduler's leader lock: one ``liftoff scheduler`` process runs the jobs, the others wait.

PostgreSQL: a session advisory lock held on a dedicated connection; the server frees it the moment
that connection drops, however the process died, so a standby takes over at its next poll.
SQLite: an exclusive flock on a file beside the database; the kernel frees it when the process
dies (SQLite is single-host: run the scheduler on the machine that has the file).
"""

from __future__ import annotations

import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import TextIO

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
LOCK_NAME = "liftoff-scheduler"


class PostgresLock:
    """A session advisory lock on its own connection, outside the app's pool."""

    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=NullPool)
        self.key = zlib.crc32(f"{LOCK_NAME}:{make_url(url).database}".encode()) & 0x7FFFFFFF
        self.conn: Connection | None = None

    def acquire(self) -> bool:
        try:
            if self.conn is None:
                self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar():
                return True
        except Exception:  # the database is down: not the leader, try again later
            log.warning("scheduler: cannot reach the database for the leader lock", exc_info=True)
            self._close()
        return False

    def still_held(self) -> bool:
        if self.conn is None:  # never acquired, or dropped after a failure
            return False
        try:
            return bool(self.conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                "AND pid = pg_backend_pid() AND granted"), {"k": self.key}).scalar())
        except Exception:
            log.warning("scheduler: lost the leader lock's connection", exc_info=True)
            self._close()
            return False

    def release(self) -> None:
        try:
            if self.conn is not None:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        except Exception:  # closing the connection frees it anyway
            log.debug("advisory unlock failed", exc_info=True)
        self._close()

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: S110 - already broken
                pass
        self.conn = None


class FileLock:
    """An exclusive flock beside the SQLite file; the kernel frees it when the process dies."""

    def __init__(self, path: Path):
        self.path = path
        self.handle: TextIO | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def still_held(self) -> bool:
        return self.handle is not None

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
        self.handle = None


def leader_lock(url: str):
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresLock(url)
    database = parsed.database or ""
    if database and database != ":memory:":
        return FileLock(Path(database).with_name(Path(database).name + ".scheduler.lock"))
    return FileLock(Path(os.environ.get("LIFTOFF_INSTANCE_DIR", "instance")) / "scheduler.lock")

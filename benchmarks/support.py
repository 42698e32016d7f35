"""What the benchmark scripts share: a free loopback port, throwaway PostgreSQL databases, and
waiting for a server they started. Each script runs on its own (``python benchmarks/X/run.py``)
and puts the repository on ``sys.path`` before importing this."""

from __future__ import annotations

import socket
import time

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_sql(server: str, statement: str) -> None:
    """Run ``statement`` (CREATE/DROP DATABASE: outside a transaction) on ``server``'s postgres
    database. The statements name only the scripts' own generated databases."""
    engine = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def create_database(server: str, name: str) -> str:
    """A fresh, empty database ``name`` on ``server``; returns its URL."""
    admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(server, f'CREATE DATABASE "{name}"')
    return database_url(server, name)


def drop_database(server: str, name: str) -> None:
    admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def wait_http(url: str, timeout: float = 120.0) -> None:
    """Until ``url`` answers below 500 (a server still starting refuses or answers 5xx)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")

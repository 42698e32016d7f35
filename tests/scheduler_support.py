"""Shared by the jobs, scheduler, connector and alert tests: job functions the tests register, and
real local servers (HTTP JSON, webhook receiver, SMTP) on 127.0.0.1."""

from __future__ import annotations

import json
import socketserver
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from app.db import db
from app.jobs.base import JobStats
from app.models import Department
from tests.helpers import Served

# -- job functions registered by tests (module-level, importable by path) ---------------------------

CALLS: dict[str, int] = {}


def add_department(name: str = "Jobs", full: bool = False) -> JobStats:
    """Writes one row and never commits: the runner does."""
    db.session.add(Department(name=f"{name}{' full' if full else ''}", hourly_rate_eur=10.0))
    return JobStats(rows_read=3, rows_written=1)


def write_then_fail(name: str = "Half") -> JobStats:
    db.session.add(Department(name=name, hourly_rate_eur=10.0))
    db.session.flush()
    raise RuntimeError("source exploded after writing")


def fail_times(key: str, failures: int) -> JobStats:
    """Fails ``failures`` times for ``key``, then succeeds."""
    CALLS[key] = CALLS.get(key, 0) + 1
    if CALLS[key] <= failures:
        raise ConnectionError(f"attempt {CALLS[key]} refused")
    db.session.add(Department(name=f"after {key}", hourly_rate_eur=1.0))
    return JobStats(rows_read=1, rows_written=1)


def no_full_mode() -> JobStats:
    return JobStats()


def add_department_blocking_once(marker: str) -> JobStats:
    """Writes one row; the first call (no ``marker`` file yet) then creates the marker and hangs until
    its process is killed, the row flushed but never committed. Later calls finish at once."""
    first = not Path(marker).exists()
    db.session.add(Department(name="Blocked once", hourly_rate_eur=10.0))
    db.session.flush()
    if first:
        Path(marker).write_text("flushed")
        time.sleep(300)
    return JobStats(rows_read=1, rows_written=1)


# -- servers -----------------------------------------------------------------------------------------


class Recorder(Served):
    """A real HTTP server: answers GETs from ``routes`` (path -> (status, body) or a callable taking
    the query string; a third item, a dict, adds headers) and records every request (method, path,
    headers, JSON body)."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                recorder.requests.append({"method": self.command, "path": path, "query": query,
                                          "headers": dict(self.headers),
                                          "json": json.loads(body) if body else None})
                route = recorder.routes.get(path, (200, {}))
                status, answer, *extra = route(query) if callable(route) else route
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


class SmtpSink(Served):
    """A minimal real SMTP server that keeps each message's envelope and text (dot-unstuffed, as a
    real server hands it on); it refuses the recipients in ``refuse`` with 550."""

    def __init__(self, refuse: set[str] = frozenset()):
        self.messages: list[dict] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 localhost test SMTP\r\n")
                envelope = {"from": None, "to": [], "data": ""}
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command.split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250 localhost\r\n")
                    elif verb == "MAIL":
                        envelope["from"] = command.split(":", 1)[1].strip(" <>")
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "RCPT":
                        address = command.split(":", 1)[1].strip(" <>")
                        if address in refuse:
                            self.wfile.write(b"550 no such mailbox\r\n")
                            continue
                        envelope["to"].append(address)
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        lines = []
                        while (data := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data.decode()[1:] if data.startswith(b"..") else data.decode())
                        envelope["data"] = "".join(lines)
                        sink.messages.append(dict(envelope))
                        envelope = {"from": None, "to": [], "data": ""}
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "RSET":
                        envelope = {"from": None, "to": [], "data": ""}
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.serve(server)


def write_connector(folder: Path, name: str, document: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(document)
    return path

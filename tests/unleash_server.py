"""A real unleash-server for tests: installed from npm once into ``.cache/unleash-server``, started on
a free 127.0.0.1 port with its own fresh PostgreSQL database, stopped and its database dropped at the end.

Use the ``unleash_server`` fixture (session scoped) from a test module:
``from tests.unleash_server import unleash_server  # noqa: F401``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests import npm_cache

VERSION = "8.2.0"
CACHE = npm_cache.CACHE_ROOT / "unleash-server"
ENTRY = CACHE / "node_modules" / "unleash-server" / "dist" / "server.js"
PG_ADMIN_URL = os.environ.get("LIFTOFF_UNLEASH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT_S = 240


@dataclass
class UnleashServer:
    url: str  # base URL, without /api
    admin_token: str
    backend_tokens: dict[str, str]  # environment -> backend (client SDK) token
    log_path: Path


def install() -> None:
    """Install unleash-server@VERSION with npm into the repo's .cache unless it is already there."""
    npm_cache.install("unleash-server", VERSION)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_admin():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _wait_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text()[-4000:]
            raise RuntimeError(f"unleash-server exited with {proc.returncode}:\n{tail}")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    tail = log_path.read_text()[-4000:]
    raise RuntimeError(f"unleash-server not healthy after {START_TIMEOUT_S}s:\n{tail}")


def start(log_dir: Path, extra_env: dict[str, str] | None = None):
    """Start a server; returns (UnleashServer, stop function). ``extra_env`` adds settings
    (benchmarks/flag_delivery lifts the SDK rate limits with it)."""
    install()
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed: cannot run a real unleash-server")
    db_name = f"unleash_t_{uuid.uuid4().hex[:10]}"
    engine = _pg_admin()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    port = _free_port()
    admin = f"*:*.{uuid.uuid4().hex}"
    backend = {env: f"default:{env}.{uuid.uuid4().hex}" for env in ("development", "production")}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "UNLEASH_"))},
        "HTTP_PORT": str(port),
        "HTTP_HOST": "127.0.0.1",
        "DATABASE_HOST": "127.0.0.1",
        "DATABASE_PORT": "5432",
        "DATABASE_USERNAME": "postgres",
        "DATABASE_PASSWORD": "",
        "DATABASE_NAME": db_name,
        "DATABASE_SSL": "false",
        "SEND_TELEMETRY": "false",
        "CHECK_VERSION": "false",
        "LOG_LEVEL": "warn",
        "INIT_ADMIN_API_TOKENS": admin,
        "INIT_BACKEND_API_TOKENS": ",".join(backend.values()),
        # Cohorts can be larger than the default 1,000 segment values.
        "UNLEASH_SEGMENT_VALUES_LIMIT": "10000",
        "NODE_ENV": "production",
        **(extra_env or {}),
    }
    log_path = log_dir / "unleash-server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(  # noqa: S603
        [node, str(ENTRY)], cwd=CACHE, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        engine.dispose()

    try:
        _wait_healthy(url, proc, log_path)
    except Exception:
        stop()
        raise
    return UnleashServer(url, admin, backend, log_path), stop


_RUNNING: dict = {"server": None, "stop": None, "users": 0}


@pytest.fixture(scope="session")
def unleash_server(tmp_path_factory):
    """One real unleash-server per test process (xdist worker), shared by every module that imports
    this fixture. Each import is its own fixture definition, so the server is kept here and stopped
    when the last definition is torn down (all at the end of the session)."""
    if _RUNNING["server"] is None:
        _RUNNING["server"], _RUNNING["stop"] = start(tmp_path_factory.mktemp("unleash"))
    _RUNNING["users"] += 1
    try:
        yield _RUNNING["server"]
    finally:
        _RUNNING["users"] -= 1
        if _RUNNING["users"] == 0:
            stop, _RUNNING["server"], _RUNNING["stop"] = _RUNNING["stop"], None, None
            stop()


# -- helpers shared by the Unleash tests ---------------------------------------------------------------


def hand_payload(key: str, enabled: bool, cohorts: dict[str, tuple[int, list[str]]], percentage: int = 0,
                 everyone: bool = False) -> dict:
    """A compiled client-API body in the agreed format, written by hand.

    :param cohorts: cohort key -> (Liftoff cohort id, member person_ids)
    """
    strategies = [
        {"name": "flexibleRollout", "parameters": {"rollout": "100", "stickiness": "userId", "groupId": key},
         "constraints": [], "segments": [cid]}
        for cid, _ in cohorts.values()
    ]
    if percentage > 0:
        strategies.append({"name": "flexibleRollout",
                           "parameters": {"rollout": str(percentage), "stickiness": "userId", "groupId": key},
                           "constraints": [], "segments": []})
    if everyone:
        strategies = []
    segments = [
        {"id": cid, "name": ckey, "constraints": [{"contextName": "userId", "operator": "IN",
                                                  "values": sorted(members), "inverted": False,
                                                  "caseInsensitive": False}]}
        for ckey, (cid, members) in cohorts.items()
    ]
    feature = {"name": key, "type": "release", "enabled": enabled, "project": "default", "stale": False,
               "strategies": strategies, "variants": [], "impressionData": False}
    return {"version": 2, "features": [feature], "segments": segments}


class PayloadServer:
    """Serves one client-API body at /api/client/features on 127.0.0.1, so the real SDK can read a
    hand-written payload (a stand-in for Liftoff's embedded API where that is not the thing tested)."""

    def __init__(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.payload: dict = {"version": 2, "features": [], "segments": []}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = json.dumps(outer.payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def sdk_answers(api_url: str, token: str, key: str, people: list[str], cache_dir: Path) -> dict[str, bool]:
    """What the real UnleashClient answers for ``key`` for each person (a fresh client, own cache)."""
    from UnleashClient import UnleashClient

    client = UnleashClient(url=api_url, app_name=f"liftoff-test-{uuid.uuid4().hex[:6]}",
                           custom_headers={"Authorization": token}, cache_directory=str(cache_dir),
                           disable_metrics=True, disable_registration=True, refresh_interval=3600)
    client.initialize_client()
    try:
        return {pid: client.is_enabled(key, {"userId": pid}) for pid in people}
    finally:
        client.destroy()


class StandInCompiler:
    """Hand-written compiled payloads keyed by feature, combined per environment like compile_payload().

    Replaces ``app.flags.sync.compile_payloads`` (the seam to the rollout work's compiler) in tests that
    exercise the sync machinery on its own; the rollout integration test uses the real compiler.
    """

    def __init__(self):
        self.production: dict[str, dict] = {}  # feature key -> hand payload for production
        self.development: dict[str, dict] = {}

    def set(self, key: str, enabled: bool, cohorts: dict[str, tuple[int, list[str]]], percentage: int = 0):
        self.production[key] = hand_payload(key, enabled, cohorts, percentage)
        self.development[key] = hand_payload(key, True, {}, everyone=True)

    @staticmethod
    def _combine(parts: dict[str, dict]) -> dict:
        features, segments = [], {}
        for payload in parts.values():
            features.extend(payload["features"])
            segments.update({s["id"]: s for s in payload["segments"]})
        return {"version": 2, "features": features, "segments": list(segments.values())}

    def __call__(self, settings) -> dict[str, dict]:
        by_liftoff = {"production": self._combine(self.production),
                      "development": self._combine(self.development)}
        return {unleash: by_liftoff[liftoff] for liftoff, unleash in settings.environments.items()}


class FaultServer:
    """A tiny HTTP server on 127.0.0.1 that answers every request with ``status`` after ``delay`` seconds
    (to stand in for an Unleash that fails with 5xx or hangs)."""

    def __init__(self, status: int = 503, delay: float = 0.0):
        import threading
        import time as _time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.status, self.delay, self.hits = status, delay, 0

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                outer.hits += 1
                _time.sleep(outer.delay)
                body = b'{"message": "upstream database unavailable"}'
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def configure_unleash(app, server: UnleashServer | None = None, **overrides) -> None:
    """Switch a test app to the Unleash backend pointed at ``server``."""
    app.config.update(
        FLAG_BACKEND="unleash",
        UNLEASH_URL=server.url if server else "http://127.0.0.1:9",
        UNLEASH_ADMIN_TOKEN=server.admin_token if server else "none",
        UNLEASH_PROJECT="default",
        UNLEASH_ENVIRONMENTS="production=production,development=development",
        UNLEASH_TIMEOUT_S=5.0,
    )
    app.config.update(overrides)


class FailingProxy:
    """Forwards to a real Unleash, but answers 503 to requests matching ``fails(method, path)``
    (to break an apply half way, at one chosen step)."""

    def __init__(self, target: str, fails):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if fails(self.command, self.path):
                    status, content = 503, b'{"message": "maintenance"}'
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() in
                               ("authorization", "content-type")}
                    resp = requests.request(self.command, target + self.path, data=body, headers=headers,
                                            timeout=10)
                    status, content = resp.status_code, resp.content
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

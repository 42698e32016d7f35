"""Operations: request ids, JSON logs and Prometheus metrics (see docs/operations.md).

A WSGI middleware wraps the whole app, outside the feature-poll shortcut, so every request --
including the SDK polls answered without Flask -- gets an ``X-Request-ID`` and a latency sample.

Metrics live in prometheus_client's default registry, one per process. Under gunicorn set
``PROMETHEUS_MULTIPROC_DIR`` (an empty directory, before the workers start): the workers then write
their samples there and ``/metrics`` adds them up across workers.
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
import logging
import os
import random
import re
import time
from datetime import UTC, datetime

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID_HEADER = "X-Request-ID"
_ENVIRON_KEY = "liftoff.request_id"
_ENDPOINT_KEY = "liftoff.endpoint"
# A caller's id is kept only when it is short and plain, so it cannot forge log lines or headers.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REQUEST_LATENCY = Histogram(
    "liftoff_http_request_duration_seconds", "HTTP request latency by endpoint and status.",
    ["method", "endpoint", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOB_DURATION = Histogram(
    "liftoff_job_duration_seconds", "Job attempt duration by job and outcome.", ["job", "status"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
JOB_RUNS = Counter("liftoff_job_runs_total", "Job attempts by job and outcome.", ["job", "status"])
FLAG_FETCHES = Counter(
    "liftoff_flag_fetches_total", "SDK feature polls (GET /api/client/features) by status.", ["status"]
)
EVENTS_INGESTED = Counter(
    "liftoff_events_ingested_total", "Events posted to the API, stored or recognised as duplicates.",
    ["result"],
)


def current_request_id() -> str | None:
    """The id of the request being served in this thread, if any."""
    return _request_id.get()


def request_id_for(incoming: str | None) -> str:
    """The caller's ``X-Request-ID`` when sane, else a fresh one."""
    if incoming and _SANE_ID.match(incoming):
        return incoming
    # 128 random bits as 32 hex digits, like uuid4().hex, without its os.urandom system call (slow
    # under load, and paid by every SDK poll): an id correlates log lines, it guards nothing.
    # ``random`` is re-seeded in each forked worker, so workers do not repeat each other's ids.
    return f"{random.getrandbits(128):032x}"


# Labelled children, looked up once: ``labels()`` costs more than the increment itself, and SDK
# polls are counted thousands of times a second. These maps hold what the registry holds already.
_FLAG_FETCH_CHILDREN: dict[int, Counter] = {}
_LATENCY_CHILDREN: dict[tuple[str, str, str], Histogram] = {}


def count_flag_fetch(status: int) -> None:
    child = _FLAG_FETCH_CHILDREN.get(status)
    if child is None:
        child = _FLAG_FETCH_CHILDREN.setdefault(status, FLAG_FETCHES.labels(status=str(status)))
    child.inc()


def _latency(method: str, endpoint: str, status: str) -> Histogram:
    key = (method, endpoint, status)
    child = _LATENCY_CHILDREN.get(key)
    if child is None:
        child = _LATENCY_CHILDREN.setdefault(key, REQUEST_LATENCY.labels(
            method=method, endpoint=endpoint, status=status))
    return child


def observe_latency(method: str, endpoint: str, status: str, seconds: float) -> None:
    """A latency sample for a request answered outside the WSGI stack (app/flags/asgi_front.py)."""
    _latency(method, endpoint, status).observe(seconds)


def count_events(accepted: int, duplicates: int) -> None:
    if accepted:
        EVENTS_INGESTED.labels(result="accepted").inc(accepted)
    if duplicates:
        EVENTS_INGESTED.labels(result="duplicate").inc(duplicates)


def observe_job(job: str, status: str, seconds: float) -> None:
    JOB_RUNS.labels(job=job, status=status).inc()
    JOB_DURATION.labels(job=job, status=status).observe(seconds)


class RequestObserver:
    """Outermost WSGI layer: assigns the request id, returns it, times the request."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        rid = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        environ[_ENVIRON_KEY] = rid
        token = _request_id.set(rid)
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def observed_start(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, rid))
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, observed_start)
        finally:
            # The body of our responses is built before start_response returns; streaming
            # responses (none on the API) would be timed up to their first chunk.
            _latency(
                environ.get("REQUEST_METHOD", ""),
                environ.get(_ENDPOINT_KEY) or _endpoint_of(environ.get("PATH_INFO", "")),
                seen.get("status", "500"),
            ).observe(time.perf_counter() - started)
            _request_id.reset(token)


def _endpoint_of(path: str) -> str:
    # Only known shapes become labels: an unbounded label set would grow the registry forever.
    if path == "/api/client/features":
        return path
    if path.startswith("/dashboard"):
        return "/dashboard"
    return "unmatched"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(fmt: str | None = None) -> None:
    """Root logging: human-readable by default, JSON lines when LIFTOFF_LOG_FORMAT=json."""
    fmt = (fmt or os.environ.get("LIFTOFF_LOG_FORMAT", "text")).lower()
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_liftoff", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._liftoff = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))


def _allowed_networks(setting: str) -> list:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()]


def _refusal(allow: str) -> Response | None:
    """None when the caller may scrape: a client address in METRICS_ALLOW (comma-separated IPs or
    CIDRs) or an admin (token or logged-in user); else the 401/403 to send."""
    from app.security import api_error, current_identity

    try:
        ip = ipaddress.ip_address(request.remote_addr or "")
        if any(ip in net for net in _allowed_networks(allow)):
            return None
    except ValueError:
        pass
    identity = current_identity()
    if identity is None:
        return api_error(401, "authentication required: an admin token or an allowed address")
    if identity.may("metrics:read"):
        return None
    return api_error(403, "not allowed: /metrics needs an admin token")


def metrics_view() -> Response:
    """Prometheus text exposition of this process (or of every gunicorn worker in multiprocess mode)."""
    refusal = _refusal(current_app.config.get("METRICS_ALLOW", ""))
    if refusal is not None:
        return refusal
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Request ids, latency metrics and ``/metrics``; call it last in create_app."""
    app.config.setdefault("METRICS_ALLOW", os.environ.get("LIFTOFF_METRICS_ALLOW", ""))
    app.add_url_rule("/metrics", "metrics", metrics_view)

    @app.before_request
    def _label_endpoint():
        if request.url_rule is not None:
            request.environ[_ENDPOINT_KEY] = request.url_rule.rule

    @app.after_request
    def _log_server_errors(response):
        if response.status_code >= 500:
            # An invitation link's path is its secret: such a line names the route, not the path.
            path = request.path
            if path.startswith("/invite/") and request.url_rule is not None:
                path = request.url_rule.rule
            logging.getLogger("app.requests").warning("%s %s -> %s", request.method, path,
                                                      response.status_code)
        return response

    app.wsgi_app = RequestObserver(app.wsgi_app)  # type: ignore[method-assign]  # WSGI middleware

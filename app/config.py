"""Settings, read from the environment with safe embedded defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("LIFTOFF_INSTANCE_DIR", Path.cwd() / "instance"))


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'liftoff.db'}"


def _secret_key() -> str:
    # A stable key survives restarts so sessions stay valid; generated once per instance dir.
    env = os.environ.get("LIFTOFF_SECRET_KEY")
    if env:
        return env
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _number(name: str, default: str, kind: type = float) -> float | int:
    """A numeric setting from the environment; a malformed value stops the start, naming it."""
    raw = os.environ.get(name, default)
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, not {raw!r}") from None


def load() -> dict:
    """The configuration mapping handed to Flask."""
    return {
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", default_database_url()),
        "SECRET_KEY": _secret_key(),
        # The address people open Liftoff at (invitation links made outside a request: the CLI).
        "PUBLIC_URL": os.environ.get("LIFTOFF_PUBLIC_URL", "").strip(),
        # The name on the board report (the demo's is set by `make demo`).
        "COMPANY_NAME": os.environ.get("LIFTOFF_COMPANY_NAME", "").strip(),
        "DEFAULT_HOURLY_RATE": float(os.environ.get("LIFTOFF_DEFAULT_HOURLY_RATE", "40.0")),
        "AUTO_CREATE_PEOPLE": os.environ.get("LIFTOFF_AUTO_CREATE_PEOPLE", "0") == "1",
        "FLAG_BACKEND": os.environ.get("LIFTOFF_FLAG_BACKEND", "embedded"),
        # Unleash backend (FLAG_BACKEND=unleash): see docs/unleash.md.
        "UNLEASH_URL": os.environ.get("LIFTOFF_UNLEASH_URL", ""),
        "UNLEASH_ADMIN_TOKEN": os.environ.get("LIFTOFF_UNLEASH_ADMIN_TOKEN", ""),
        "UNLEASH_PROJECT": os.environ.get("LIFTOFF_UNLEASH_PROJECT", "default"),
        "UNLEASH_ENVIRONMENTS": os.environ.get(
            "LIFTOFF_UNLEASH_ENVIRONMENTS", "production=production,development=development"
        ),
        "UNLEASH_TIMEOUT_S": float(os.environ.get("LIFTOFF_UNLEASH_TIMEOUT_S", "10")),
        # Web origins whose browser apps may call /api/frontend (comma-separated, or *): docs/unleash.md.
        "FRONTEND_ORIGINS": os.environ.get("LIFTOFF_FRONTEND_ORIGINS", ""),
        # Each web process re-reads the latest month's rollups after a refresh (dashboards/kpi/warm.py).
        "KPI_WARM_SECONDS": float(os.environ.get("LIFTOFF_KPI_WARM_SECONDS", "30")),
        # Memory each process may keep KPI reads in (app/services/kpi_reads/cache.py).
        "KPI_CACHE_MB": float(os.environ.get("LIFTOFF_KPI_CACHE_MB", "256")),
        "RUN_SCHEDULER_IN_PROCESS": os.environ.get("LIFTOFF_SCHEDULER_IN_PROCESS", "0") == "1",
        # Threads per gunicorn worker for the requests its event loop hands off (app/asgi.py).
        "WEB_THREADS": _number("LIFTOFF_THREADS", "8", int),
        # Job runs and the scheduler (docs/scheduler.md).
        "JOB_MAX_ATTEMPTS": _number("LIFTOFF_JOB_MAX_ATTEMPTS", "3", int),
        "JOB_RETRY_BASE_SECONDS": _number("LIFTOFF_JOB_RETRY_BASE_SECONDS", "30"),
        "JOB_RETRY_MAX_SECONDS": _number("LIFTOFF_JOB_RETRY_MAX_SECONDS", "900"),
        "JOB_MISFIRE_GRACE_SECONDS": _number("LIFTOFF_JOB_MISFIRE_GRACE_SECONDS", "300", int),
        "SCHEDULER_THREADS": _number("LIFTOFF_SCHEDULER_THREADS", "4", int),
        "SCHEDULER_RESYNC_SECONDS": _number("LIFTOFF_SCHEDULER_RESYNC_SECONDS", "60"),
        # Days AI outputs and corrections are kept before the text-retention job blanks them (0: kept).
        "EVENT_TEXT_RETENTION_DAYS": _number("LIFTOFF_EVENT_TEXT_RETENTION_DAYS", "0", int),
        # Proxies in front that append to X-Forwarded-For (a load balancer: 1). Behind one, every
        # client would otherwise have its address, and the login throttle's per-address limit
        # would lock out everybody at once. 0 (the default) trusts no forwarded header.
        "PROXY_HOPS": _number("LIFTOFF_PROXY_HOPS", "0", int),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("LIFTOFF_SECURE_COOKIES", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    }


def engine_options(settings: dict) -> None:
    """PostgreSQL sessions get LIFTOFF_PG_WORK_MEM (32MB) of sort memory: a KPI read groups some
    10^4 person x task rows, which spill to disk with the server's default 4MB. The full rebuild
    raises it for its own transaction."""
    if str(settings.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        work_mem = os.environ.get("LIFTOFF_PG_WORK_MEM", "32MB")
        options = settings.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("options", f"-c work_mem={work_mem}")

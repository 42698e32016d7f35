"""The SDKs on the other end of the client API: token checks, registrations, metrics, rejections.

Counters are written with one INSERT .. ON CONFLICT DO UPDATE each, so concurrent workers never
lose an increment and never trip over the unique keys.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from app import plausible
from app.db import db, utcnow
from app.errors import Collector, Detail, ValidationFailed
from app.formats import iso_utc as _iso
from app.models import (
    ApiToken,
    Feature,
    FeatureVariant,
    FlagMetric,
    FlagVariantMetric,
    RejectedFetch,
    SdkInstance,
)
from app.models.operations import MetricBucket
from app.security import token_kinds_with
from app.token_secrets import hash_secret, secret_from_authorization

TOKEN_CACHE_SECONDS = 10.0
MAX_NAME = 200
BUCKET_MEMORY = timedelta(days=2)
# Bounds on what one SDK request may make us store (docs/rollouts.md): an SDK reports the toggles
# it evaluated, a few hundred at most; one token serves a handful of apps.
MAX_TOGGLES_PER_REPORT = 1_000
MAX_COUNT_PER_TOGGLE = plausible.MAX_INT
MAX_APPS_PER_TOKEN = 100
MAX_HOURLY_SUM = 2**63 - 1  # flag_metrics.yes/no are BIGINT
MAX_VARIANTS_PER_TOGGLE = 100  # a report's variant names per toggle read; the rest ignored
MAX_STRATEGIES = 100
# Refused requests are counted per app name only for secrets that were real tokens (revoked,
# expired, of the wrong kind), and for at most this many names a day; anonymous ones under "".
MAX_REJECTED_APP_NAMES_PER_DAY = 50
OTHER_APPS = "(other)"


@dataclass(frozen=True)
class TokenCheck:
    """``environment`` when the token may read flags, else ``reason`` and the HTTP status."""

    environment: str | None = None
    reason: str | None = None
    status: int = 200
    name: str = ""
    token_id: int | None = None


class TokenCache:
    """Secret hash -> token facts for a few seconds: a poll must not query the database.

    Each entry also keeps the client-API verdict worked out when it was filled (the environment of
    a client token that may read flags, else None) and the token's expiry as a Unix time, so the
    SDK fast path (app/flags/fast_path.py) decides a poll with one dict lookup and two comparisons.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # digest -> (filled at, monotonic; facts or None; client environment or None; expiry or None)
        self._entries: dict[str, tuple[float, tuple | None, str | None, float | None]] = {}

    def peek(self, digest: str) -> tuple | None:
        """The cached facts of a known token, or None when not cached, stale or unknown."""
        hit = self._entries.get(digest)
        if hit is not None and time.monotonic() - hit[0] < TOKEN_CACHE_SECONDS:
            return hit[1]
        return None

    def client_environment(self, digest: str) -> str | None:
        """The environment a cached, fresh, unexpired client token reads; None sends the request
        the slow way (which also counts refusals)."""
        hit = self._entries.get(digest)
        if hit is None or hit[2] is None or time.monotonic() - hit[0] >= TOKEN_CACHE_SECONDS:
            return None
        if hit[3] is not None and time.time() >= hit[3]:
            return None
        return hit[2]

    def facts(self, secret: str) -> tuple | None:
        digest = hash_secret(secret)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < TOKEN_CACHE_SECONDS:
            return hit[1]
        token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        facts = None
        if token is not None:
            facts = (token.kind, token.environment, token.name, token.expires_at, token.revoked_at,
                     token.id)
        environment = judge(facts).environment
        expires_at = facts[3] if facts is not None else None
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)  # stored in UTC (app.db.utcnow)
        with self._lock:
            if len(self._entries) > 10_000:  # random secrets must not grow the cache forever
                self._entries.clear()
            self._entries[digest] = (now, facts, environment,
                                     expires_at.timestamp() if expires_at is not None else None)
        return facts


def _token_cache() -> TokenCache:
    return current_app.extensions.setdefault("liftoff_token_cache", TokenCache())


def check_client_token(header: str | None, kind: str = "client") -> TokenCheck:
    """Decide on the ``Authorization`` header (Unleash SDKs send the bare secret; Bearer is fine).

    :param kind: the token kind this API takes: ``client`` (/api/client) or ``frontend`` (/api/frontend).
    """
    secret = secret_from_authorization(header, bare=True)
    if not secret:
        return TokenCheck(reason="missing", status=401)
    return judge(_token_cache().facts(secret), kind)


# Which permission of the matrix each SDK-facing API asks of its tokens.
API_PERMISSION = {"client": "flags:read", "frontend": "flags:frontend"}


def judge(facts: tuple | None, wanted: str = "client") -> TokenCheck:
    """The decision for a token's facts (None: no such token) on an API that takes ``wanted`` tokens.
    A client token never reads the frontend API nor a frontend token the client API: one carries the
    whole payload to backends, the other ships inside browsers."""
    if facts is None:
        return TokenCheck(reason="unknown", status=401)
    kind, environment, name, expires_at, revoked_at, token_id = facts
    if revoked_at is not None:
        return TokenCheck(reason="revoked", status=401)
    if expires_at is not None and expires_at <= utcnow():
        return TokenCheck(reason="expired", status=401)
    if kind not in token_kinds_with(API_PERMISSION[wanted]):  # the one permission matrix decides
        return TokenCheck(reason="wrong_kind", status=403)
    return TokenCheck(environment=environment or "production", name=name, token_id=token_id)


def _insert(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(model)


def record_rejection(reason: str, app_name: str | None) -> None:
    """Count one refused client-API request for today (shown under ``GET /api/v1/sdks``).

    Without a real token (``missing``, ``unknown``) the app name is not kept: anybody could
    otherwise add a row per ``UNLEASH-APPNAME`` they invent."""
    now = utcnow()
    day = now.date().isoformat()
    name = (app_name or "")[:MAX_NAME] if reason not in ("missing", "unknown") else ""
    if name:
        known = set(db.session.scalars(select(RejectedFetch.app_name).where(RejectedFetch.day == day)))
        if name not in known and len(known) >= MAX_REJECTED_APP_NAMES_PER_DAY:
            name = OTHER_APPS
    stmt = _insert(RejectedFetch).values(
        day=day, reason=reason, app_name=name, count=1, last_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "reason", "app_name"],
        set_={"count": RejectedFetch.count + 1, "last_at": stmt.excluded.last_at},
    )
    db.session.execute(stmt)


def _name(body: dict, field: str, problems: Collector, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        problems.add(field, f"must be a non-empty string of at most {MAX_NAME} characters")
        return None
    return value.strip()


def _timestamp(value, field: str, problems: Collector) -> datetime | None:
    if not isinstance(value, str):
        problems.add(field, "must be an ISO 8601 timestamp")
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        problems.add(field, f"not an ISO 8601 timestamp: {value!r}")
        return None
    moment = plausible.to_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), field, None, problems)
    return plausible.not_in_future(moment, field, None, problems)


def _admit_app(app_name: str, token_id: int | None) -> None:
    """Refuse (422) an app name beyond the token's first ``MAX_APPS_PER_TOKEN``: one client token
    must not be able to fill the tables with invented app names."""
    if token_id is None:
        return
    names = select(SdkInstance.app_name).where(SdkInstance.token_id == token_id).distinct()
    known = set(db.session.scalars(names.limit(MAX_APPS_PER_TOKEN + 1)))
    if app_name not in known and len(known) >= MAX_APPS_PER_TOKEN:
        raise ValidationFailed("too many app names for this token", [Detail(
            "appName", f"this client token reported {MAX_APPS_PER_TOKEN} app names already; "
                       "give each further app its own token")])


def _touch_instance(app_name: str, instance_id: str, environment: str, token_id: int | None = None,
                    **known) -> None:
    _admit_app(app_name, token_id)
    now = utcnow()
    if token_id is not None:
        known["token_id"] = token_id
    stmt = _insert(SdkInstance).values(
        app_name=app_name, instance_id=instance_id, environment=environment,
        first_seen=now, last_seen=now, **known,
    )
    changes = {"last_seen": stmt.excluded.last_seen}
    changes.update({k: getattr(stmt.excluded, k) for k in known})
    stmt = stmt.on_conflict_do_update(index_elements=["app_name", "instance_id", "environment"], set_=changes)
    db.session.execute(stmt)


def register(body: dict, environment: str, token_id: int | None = None) -> None:
    """Store an SDK's registration (``POST /api/client/register``); raises ValidationFailed."""
    problems = Collector()
    app_name = _name(body, "appName", problems)
    instance_id = _name(body, "instanceId", problems)
    sdk_version = body.get("sdkVersion")
    if sdk_version is not None and (not isinstance(sdk_version, str) or len(sdk_version) > 80):
        problems.add("sdkVersion", "must be a string of at most 80 characters")
    strategies = body.get("strategies", [])
    if not isinstance(strategies, list) or len(strategies) > MAX_STRATEGIES or not all(
        isinstance(s, str) and len(s) <= MAX_NAME for s in strategies
    ):
        problems.add("strategies", f"must be a list of at most {MAX_STRATEGIES} strategy names")
    interval = body.get("interval")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)
                                 or not 0 <= interval <= plausible.MAX_INT):
        problems.add("interval", f"must be an integer from 0 to {plausible.MAX_INT}")
    if body.get("started") is not None:
        _timestamp(body["started"], "started", problems)
    problems.raise_if_any("invalid registration")
    assert app_name is not None and instance_id is not None, "a missing name is a problem raised above"
    known = {"strategies": json.dumps(strategies), "interval_ms": interval}
    if sdk_version is not None:
        known["sdk_version"] = sdk_version
    _touch_instance(app_name, instance_id, environment, token_id, **known)


def _count(value, field: str, problems: Collector) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT_PER_TOGGLE:
        problems.add(field, f"must be an integer from 0 to {MAX_COUNT_PER_TOGGLE} (one report)")
        return 0
    return value


def record_metrics(body: dict, environment: str, token_id: int | None = None) -> int:
    """Add an SDK's yes/no counts to the hour its bucket started in; returns the toggles stored."""
    problems = Collector()
    app_name = _name(body, "appName", problems)
    instance_id = _name(body, "instanceId", problems)
    bucket = body.get("bucket")
    counts: list[tuple[str, int, int]] = []
    variant_counts: dict[str, dict[str, int]] = {}
    start = stop = None
    if not isinstance(bucket, dict):
        problems.add("bucket", "must be an object with start, stop and toggles")
    else:
        start = _timestamp(bucket.get("start"), "bucket.start", problems)
        stop = _timestamp(bucket.get("stop"), "bucket.stop", problems)
        toggles = bucket.get("toggles")
        if not isinstance(toggles, dict):
            problems.add("bucket.toggles", "must be an object of feature name -> {yes, no}")
            toggles = {}
        elif len(toggles) > MAX_TOGGLES_PER_REPORT:
            problems.add("bucket.toggles", f"{len(toggles)} toggles; a report holds at most "
                                           f"{MAX_TOGGLES_PER_REPORT:,}")
            toggles = {}
        for name, tally in toggles.items():
            field = f"bucket.toggles.{name}"
            if not name or len(name) > 120 or not isinstance(tally, dict):
                problems.add(field, "must be a feature name (at most 120 characters) -> {yes, no}")
                continue
            counts.append((name, _count(tally.get("yes"), f"{field}.yes", problems),
                           _count(tally.get("no"), f"{field}.no", problems)))
            variants = tally.get("variants") or {}
            if not isinstance(variants, dict):
                problems.add(f"{field}.variants", "must be an object of variant name -> count")
                continue
            variant_counts[name] = {str(v): _count(n, f"{field}.variants.{v}", problems)
                                    for v, n in list(variants.items())[:MAX_VARIANTS_PER_TOGGLE]}
    problems.raise_if_any("invalid metrics")
    # Each of these is None only when its problem was recorded, and raised just above.
    assert app_name is not None and instance_id is not None and start is not None and stop is not None
    _touch_instance(app_name, instance_id, environment, token_id)
    if not _first_delivery(app_name, instance_id, environment, start, stop):
        return 0
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    # Only the flags served here are counted: invented toggle names would each add a row.
    served = set(db.session.scalars(select(Feature.key).where(Feature.key.in_([c[0] for c in counts]))))
    stored = 0
    for name, yes, no in counts:
        if (yes == 0 and no == 0) or name not in served:
            continue
        stmt = _insert(FlagMetric).values(
            feature_key=name, app_name=app_name, environment=environment, hour=hour, yes=yes, no=no
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["feature_key", "app_name", "environment", "hour"],
            set_={"yes": _saturated(FlagMetric.yes, stmt.excluded.yes),
                  "no": _saturated(FlagMetric.no, stmt.excluded.no)},
        )
        db.session.execute(stmt)
        stored += 1
    _record_variant_counts(variant_counts, served, app_name, environment, hour)
    return stored


def _record_variant_counts(variant_counts: dict[str, dict[str, int]], served: set[str], app_name: str,
                           environment: str, hour: datetime) -> None:
    """How often each variant was answered (the SRM check shows them): only the feature's own
    variants and ``disabled``, so invented names add no rows."""
    wanted = {name: tally for name, tally in variant_counts.items() if name in served and any(tally.values())}
    if not wanted:
        return
    known: dict[str, set[str]] = {name: {"disabled"} for name in wanted}
    for key, variant in db.session.execute(select(Feature.key, FeatureVariant.name).join(
            FeatureVariant, FeatureVariant.feature_id == Feature.id).where(Feature.key.in_(list(wanted)))):
        known[key].add(variant)
    for name, tally in wanted.items():
        for variant, count in tally.items():
            if count == 0 or variant not in known[name]:
                continue
            stmt = _insert(FlagVariantMetric).values(feature_key=name, app_name=app_name,
                                                     environment=environment, hour=hour, variant=variant,
                                                     count=count)
            stmt = stmt.on_conflict_do_update(
                index_elements=["feature_key", "app_name", "environment", "hour", "variant"],
                set_={"count": _saturated(FlagVariantMetric.count, stmt.excluded.count)})
            db.session.execute(stmt)


def _saturated(total, added):
    """``total + added``, held at the BIGINT maximum instead of overflowing (an error that would
    refuse every later report of that app and hour)."""
    return case((total > MAX_HOURLY_SUM - added, MAX_HOURLY_SUM), else_=total + added)


def _first_delivery(app_name: str, instance_id: str, environment: str, start: datetime,
                    stop: datetime) -> bool:
    """Remember the bucket; False when it was counted before (a retried POST)."""
    now = utcnow()
    # Buckets older than this cannot come back; keeping them would grow the table forever.
    db.session.execute(delete(MetricBucket).where(MetricBucket.received_at < now - BUCKET_MEMORY))
    stmt = _insert(MetricBucket.__table__).values(
        app_name=app_name, instance_id=instance_id, environment=environment,
        start_at=start, stop_at=stop, received_at=now,
    ).on_conflict_do_nothing(index_elements=["app_name", "instance_id", "environment", "start_at", "stop_at"])
    return db.session.execute(stmt.returning(MetricBucket.__table__.c.id)).first() is not None


def sdk_overview() -> dict:
    """The body of ``GET /api/v1/sdks``: connected instances and refused fetches."""
    instances = db.session.scalars(select(SdkInstance).order_by(SdkInstance.last_seen.desc()))
    rejected = list(db.session.scalars(select(RejectedFetch).order_by(RejectedFetch.day.desc(),
                                                                      RejectedFetch.reason)))
    return {
        "instances": [
            {
                "app_name": i.app_name,
                "instance_id": i.instance_id,
                "environment": i.environment,
                "sdk_version": i.sdk_version,
                "interval": i.interval_ms,
                "first_seen": _iso(i.first_seen),
                "last_seen": _iso(i.last_seen),
            }
            for i in instances
        ],
        "rejected_fetches": [
            {"day": r.day, "reason": r.reason, "app_name": r.app_name, "count": r.count,
             "last_at": _iso(r.last_at)}
            for r in rejected
        ],
        "rejected_total": sum(r.count for r in rejected),
    }

"""One user's toggles, evaluated on the server for the Unleash frontend API (``/api/frontend``).

Browser and mobile apps must never receive the compiled payload: its segments list the person ids
of every cohort. The frontend API evaluates that same payload here instead, with the engine inside
the server-side Python SDK (``yggdrasil-engine``, what ``UnleashClient.is_enabled`` calls), so its
answer for a context is by construction what a backend SDK answers for it; the app learns only
which toggles are on for its user, and with which variant.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field

from flask import current_app
from yggdrasil_engine.engine import UnleashEngine

from app.flags import payload_cache

log = logging.getLogger(__name__)


@dataclass
class _Loaded:
    """An engine holding one environment's payload (identified by its ETag)."""

    etag: str
    engine: UnleashEngine
    features: tuple[tuple[str, bool], ...]  # (name, impressionData), in the payload's order
    # The engine is a native object behind ctypes; one caller at a time, as the SDK does.
    lock: threading.Lock = field(default_factory=threading.Lock)


def _load(current: payload_cache.Payload) -> _Loaded:
    engine = UnleashEngine()
    text = current.body.decode()
    warnings = engine.take_state(text)
    if warnings:
        log.warning("the flag engine warned about the compiled payload: %s", warnings)
    features = tuple((f["name"], bool(f.get("impressionData"))) for f in json.loads(text)["features"])
    return _Loaded(etag=current.etag, engine=engine, features=features)


def _variant(found) -> dict:
    variant = {"name": found.name, "enabled": bool(found.enabled)}
    if found.payload is not None:
        variant["payload"] = found.payload
    return variant


class FrontendEvaluator:
    """Per app (tests run many apps in one process): an engine per environment, rebuilt when the
    cached payload's ETag moves, so evaluation costs no database query while flags are unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, _Loaded] = {}

    def _engine(self, environment: str) -> _Loaded:
        current = payload_cache.payload(environment)
        loaded = self._loaded.get(environment)
        if loaded is None or loaded.etag != current.etag:
            with self._lock:
                loaded = self._loaded.get(environment)
                if loaded is None or loaded.etag != current.etag:
                    loaded = self._loaded[environment] = _load(current)
        return loaded

    def feature_names(self, environment: str) -> frozenset[str]:
        """The toggles ``environment`` serves (a metrics report may count only these)."""
        return frozenset(name for name, _ in self._engine(environment).features)

    def toggles(self, environment: str, context: dict) -> list[dict]:
        """The enabled toggles of ``environment`` for ``context``, in the frontend API's shape.

        :param environment: the frontend token's environment.
        :param context: an Unleash context (``userId``, ``sessionId``, ..., ``properties``).
        """
        loaded = self._engine(environment)
        answer = []
        with loaded.lock:
            for name, impression_data in loaded.features:
                if not loaded.engine.check_enabled(name, context).is_enabled:
                    continue  # disabled toggles are not sent: not even their names leave
                variant = loaded.engine.check_variant(name, context).variant
                answer.append({"name": name, "enabled": True, "variant": _variant(variant),
                               "impressionData": impression_data})
        return answer


def evaluator_for_app() -> FrontendEvaluator:
    return current_app.extensions.setdefault("liftoff_frontend_evaluator", FrontendEvaluator())

"""A WSGI shortcut for the one request SDKs send all day: ``GET /api/client/features``.

When the token and the environment's payload are both fresh in this process's caches, the answer
is written straight away, without Flask's request context, routing and hooks: a hash of the
secret, two dict lookups, and status line, headers and body that were put together once per
payload (``200`` and ``304`` alike). Anything else (a first poll, an expired cache entry, a bad
token, every other path) goes to the Flask app, which fills the caches, so both paths answer
identically. In production the ASGI front (``app/flags/asgi_front.py``) asks ``current`` and
``answer`` from gunicorn's event loop, before any thread is involved.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from app.flags.client_api import VARY, etag_matches
from app.flags.payload_cache import COHORTS_BY_CONTEXT, form
from app.observability import count_flag_fetch
from app.token_secrets import hash_secret, secret_from_authorization

PATH = "/api/client/features"
_KEPT_ANSWERS = 64  # payload versions whose headers are kept; a new ETag adds one


class FeaturePollShortcut:
    def __init__(self, wsgi_app, flask_app, security_headers: list[tuple[str, str]]) -> None:
        self.wsgi_app = wsgi_app
        self.extensions = flask_app.extensions
        # The headers app.web adds to every Flask answer (CSP, HSTS when served over HTTPS, ...),
        # computed once from the settings by create_app, which hands them in (the flags sit below
        # the web faces): the shortcut answers exactly like Flask, at no cost.
        self.fixed_headers = [("Cache-Control", "no-cache"), ("Vary", VARY), *security_headers]
        self._answers: dict[str, Answers] = {}  # ETag -> the headers of its 200 and 304

    def _environment(self, header: str) -> str | None:
        tokens = self.extensions.get("liftoff_token_cache")
        secret = secret_from_authorization(header, bare=True)
        if tokens is None or not secret:
            return None
        return tokens.client_environment(hash_secret(secret))

    def current(self, authorization: str, cohorts: str | None):
        """The payload to answer from the caches, or None when Flask must answer (see above)."""
        environment = self._environment(authorization)
        if cohorts is not None and cohorts.strip() != COHORTS_BY_CONTEXT:
            return None  # Flask refuses it, naming the header
        cache = self.extensions.get("liftoff_payload_cache")
        key = form(environment, cohorts is not None) if environment else None
        return cache.fresh(key, time.monotonic()) if key and cache else None

    def answer(self, current, condition: str | None) -> tuple[bool, Answers]:
        """(whether ``condition`` matches, so the answer is a ``304``; the payload's headers)."""
        answers = self._answers.get(current.etag)
        if answers is None:
            not_modified = [("ETag", current.etag), *self.fixed_headers]
            ok = [*not_modified, ("Content-Type", "application/json"),
                  ("Content-Length", str(len(current.body)))]
            if len(self._answers) >= _KEPT_ANSWERS:
                self._answers.clear()
            answers = self._answers[current.etag] = Answers(ok, not_modified, _raw(ok), _raw(not_modified))
        unchanged = condition is not None and (
            condition == current.etag or etag_matches(condition, current.etag))
        count_flag_fetch(304 if unchanged else 200)
        return unchanged, answers

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        current = self.current(environ.get("HTTP_AUTHORIZATION", ""), environ.get("HTTP_LIFTOFF_COHORTS"))
        if current is None:
            return self.wsgi_app(environ, start_response)
        unchanged, answers = self.answer(current, environ.get("HTTP_IF_NONE_MATCH"))
        # copies: a server or middleware may add to the list it is handed
        if unchanged:
            start_response("304 NOT MODIFIED", list(answers.not_modified))
            return [b""]
        start_response("200 OK", list(answers.ok))
        return [current.body]


class Answers(NamedTuple):
    """A payload version's headers, as WSGI wants them and as ASGI does (bytes, lower-case names)."""

    ok: list[tuple[str, str]]
    not_modified: list[tuple[str, str]]
    ok_raw: list[tuple[bytes, bytes]]
    not_modified_raw: list[tuple[bytes, bytes]]


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]

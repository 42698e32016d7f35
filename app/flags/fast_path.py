"""A WSGI shortcut for the one request SDKs send all day: ``GET /api/client/features``.

When the token and the environment's payload are both fresh in this process's caches, the answer
is written straight away, without Flask's request context, routing and hooks. Anything else (a
first poll, an expired cache entry, a bad token, every other path) goes to the Flask app, which
fills the caches, so both paths answer identically.
"""

from __future__ import annotations

import time

from app.flags import clients
from app.flags.client_api import etag_matches
from app.observability import count_flag_fetch
from app.services.access import hash_secret

PATH = "/api/client/features"


class FeaturePollShortcut:
    def __init__(self, wsgi_app, flask_app) -> None:
        from app.web import security_headers

        self.wsgi_app = wsgi_app
        self.extensions = flask_app.extensions
        # The headers app.web adds to every Flask answer (CSP, HSTS when served over HTTPS, ...),
        # computed once from the settings: the shortcut answers exactly like Flask, at no cost.
        self.fixed_headers = [("Cache-Control", "no-cache"), ("Vary", "Authorization"),
                              *security_headers(flask_app.config)]

    def _environment(self, header: str) -> str | None:
        tokens = self.extensions.get("liftoff_token_cache")
        secret = header.strip()
        if tokens is None or not secret:
            return None
        if secret[:7].lower() == "bearer ":
            secret = secret[7:].strip()
        facts = tokens.peek(hash_secret(secret))
        return clients.judge(facts).environment if facts is not None else None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        environment = self._environment(environ.get("HTTP_AUTHORIZATION", ""))
        cache = self.extensions.get("liftoff_payload_cache")
        current = cache.fresh(environment, time.monotonic()) if environment and cache else None
        if current is None:
            return self.wsgi_app(environ, start_response)
        headers = [("ETag", current.etag), *self.fixed_headers]
        if etag_matches(environ.get("HTTP_IF_NONE_MATCH"), current.etag):
            count_flag_fetch(304)
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(current.body)))]
        count_flag_fetch(200)
        start_response("200 OK", headers)
        return [current.body]

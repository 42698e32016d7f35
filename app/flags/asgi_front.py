"""Liftoff as an ASGI application, for gunicorn's asyncio worker (``-k asgi``, docs/operations.md).

SDK polls answered from warm caches (``FeaturePollShortcut.current``) are written on the event
loop, with the same status, headers and body as the WSGI stack would send, a request id and a
latency sample: no thread hand-off, which is most of what a poll costs under gunicorn's threaded
worker. Every other request, and a poll the caches cannot answer, runs the whole WSGI app (Flask,
Dash, the request ids and metrics of app.observability) in a pool of threads through ``a2wsgi``,
so a slow KPI read never blocks the loop.
"""

from __future__ import annotations

import time

from a2wsgi import WSGIMiddleware

from app.flags.fast_path import PATH, FeaturePollShortcut
from app.observability import observe_latency, request_id_for

_WANTED = {b"authorization", b"liftoff-cohorts", b"if-none-match", b"x-request-id"}


class AsgiFront:
    def __init__(self, flask_app, threads: int) -> None:
        self.shortcut: FeaturePollShortcut = flask_app.extensions["liftoff_poll_shortcut"]
        self.wsgi = WSGIMiddleware(flask_app, workers=threads)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            if await self._poll(scope, send):
                return
        await self.wsgi(scope, receive, send)

    async def _poll(self, scope, send) -> bool:
        """Answer a poll from the caches; False when the WSGI app must answer it."""
        started = time.perf_counter()
        # ASGI headers are lower-case bytes; a repeated header keeps its last value, as in WSGI's
        # environ (a client sends each of these once).
        seen = {name: value.decode("latin-1") for name, value in scope["headers"] if name in _WANTED}
        current = self.shortcut.current(seen.get(b"authorization", ""), seen.get(b"liftoff-cohorts"))
        if current is None:
            return False
        unchanged, answers = self.shortcut.answer(current, seen.get(b"if-none-match"))
        rid = request_id_for(seen.get(b"x-request-id")).encode("latin-1")
        headers = [*(answers.not_modified_raw if unchanged else answers.ok_raw), (b"x-request-id", rid)]
        await send({"type": "http.response.start", "status": 304 if unchanged else 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if unchanged else current.body})
        observe_latency("GET", PATH, "304" if unchanged else "200", time.perf_counter() - started)
        return True

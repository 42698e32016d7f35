"""The ceiling of a gunicorn worker: an ASGI app that does nothing but hand back a payload it holds.

``benchmarks/flag_delivery/run.py --ceiling`` serves it with Liftoff's own gunicorn settings
(``scripts/gunicorn.conf.py``: the asyncio worker) and the very bytes Liftoff answered
(``CEILING_BODY``: a file), ``200`` with an ETag and ``304`` to it. What it reaches is what no
application code under these settings can pass: the HTTP parsing and the event loop are all that
is left.
"""

from __future__ import annotations

import os
from pathlib import Path

BODY = Path(os.environ["CEILING_BODY"]).read_bytes()
ETAG = b'"ceiling"'
NOT_MODIFIED = [(b"etag", ETAG), (b"cache-control", b"no-cache")]
OK = [*NOT_MODIFIED, (b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to start
        return
    unchanged = any(name == b"if-none-match" and value == ETAG for name, value in scope["headers"])
    await send({"type": "http.response.start", "status": 304 if unchanged else 200,
                "headers": NOT_MODIFIED if unchanged else OK})
    await send({"type": "http.response.body", "body": b"" if unchanged else BODY})

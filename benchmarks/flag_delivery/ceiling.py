"""The ceiling of a gunicorn worker: a WSGI app that does nothing but hand back a payload it holds.

``benchmarks/flag_delivery/run.py --ceiling`` serves it with Liftoff's own gunicorn settings and
the very bytes Liftoff answered (``CEILING_BODY``: a file), ``200`` with an ETag and ``304`` to it.
What it reaches is what no application code under gunicorn can pass: the HTTP parsing, the
connection handling and the worker's threads are all that is left.
"""

from __future__ import annotations

import os
from pathlib import Path

BODY = Path(os.environ["CEILING_BODY"]).read_bytes()
ETAG = '"ceiling"'
OK = [("ETag", ETAG), ("Cache-Control", "no-cache"), ("Content-Type", "application/json"),
      ("Content-Length", str(len(BODY)))]
NOT_MODIFIED = [("ETag", ETAG), ("Cache-Control", "no-cache")]


def app(environ, start_response):
    if environ.get("HTTP_IF_NONE_MATCH") == ETAG:
        start_response("304 NOT MODIFIED", list(NOT_MODIFIED))
        return [b""]
    start_response("200 OK", list(OK))
    return [BODY]

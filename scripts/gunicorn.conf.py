"""gunicorn settings for Liftoff: ``gunicorn -c scripts/gunicorn.conf.py 'app.asgi:app'``.

gunicorn's asyncio worker serves the ASGI front (app/asgi.py): SDK polls from warm caches on the
event loop, everything else in ``LIFTOFF_THREADS`` threads per worker (default 8). To serve the
plain WSGI app instead: ``-k gthread --threads 8 'app.wsgi:app'``. Everything here can be
overridden on the command line (-w, -k, --bind). With
PROMETHEUS_MULTIPROC_DIR set (an empty directory, wiped before gunicorn starts), each worker writes
its metrics there and /metrics sums them; a dead worker's live gauges are dropped here.
"""

import os

bind = os.environ.get("LIFTOFF_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("LIFTOFF_WORKERS", "2"))
worker_class = "asgi"
timeout = 60  # a 10,000-event batch or a KPI read finishes well within this
# Longer than any client pause between requests: a connection closed by the server just as the client
# reuses it shows up as "connection reset" on the client. Behind a proxy, keep it above the proxy's
# idle timeout for its upstream connections.
keepalive = 30
# SDKs hold keep-alive connections for many polls. On one shared listening socket the worker that
# wakes first accepts most of them, and the other idles: wrk -c10 against 2 workers swung between
# ~3,000 and ~10,000 polls/s from run to run on this machine. SO_REUSEPORT lets the kernel spread
# the connections over the workers (7,700-10,800/s in every run; docs/operations.md).
reuse_port = True
graceful_timeout = 30
accesslog = None  # the app logs what matters, with request ids; the proxy keeps access logs


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

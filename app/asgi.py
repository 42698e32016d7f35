"""The ASGI entry point for production: ``gunicorn -c scripts/gunicorn.conf.py 'app.asgi:app'``
(gunicorn's asyncio worker, ``-k asgi``). SDK polls from warm caches are answered on the event loop;
everything else runs the WSGI app in ``LIFTOFF_THREADS`` threads per worker (default 8). Workers
never run the scheduler; it is its own process (``liftoff scheduler``). ``app.wsgi:app`` serves the
same app to any WSGI server."""

from app.flags.asgi_front import AsgiFront
from app.wsgi import app as flask_app

app = AsgiFront(flask_app, threads=flask_app.config["WEB_THREADS"])

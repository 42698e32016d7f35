"""The WSGI entry point for production: ``gunicorn 'app.wsgi:app'``. Workers never run the
scheduler; it is its own process (``liftoff scheduler``)."""

from app import create_app
from app.serving import settle_for_serving

app = create_app({"RUN_SCHEDULER_IN_PROCESS": False})
settle_for_serving()

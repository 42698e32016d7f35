"""The app as gunicorn serves it for the benchmark (no Dash: only the API is measured)."""

from app import create_app
from app.serving import settle_for_serving

app = create_app({"SKIP_DASH": True})
settle_for_serving()  # as app/wsgi.py

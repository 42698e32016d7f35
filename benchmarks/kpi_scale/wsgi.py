"""The app as gunicorn serves it for the benchmark (no Dash: only the API is measured)."""

from app import create_app

app = create_app({"SKIP_DASH": True})

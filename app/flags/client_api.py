"""Placeholder for the Unleash client API (/api/client): filled in by the rollout issue."""

from flask import Blueprint, Flask

bp = Blueprint("client_api", __name__, url_prefix="/api/client")


def register(app: Flask) -> None:
    app.register_blueprint(bp)

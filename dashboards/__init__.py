"""Placeholder for the Dash app: filled in by the dashboard work."""

from flask import Flask


def init_dash(app: Flask) -> None:
    return None

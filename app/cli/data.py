"""Importing people and cohorts, seeding the demo company (implemented by the people/seed work)."""

from __future__ import annotations

from app.cli import main


@main.group("import")
def import_group() -> None:
    """Import CSV files: all rows or none, with every bad row listed."""

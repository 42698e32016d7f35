"""Scheduled jobs: one registry of every periodic job (implemented by the scheduler work)."""

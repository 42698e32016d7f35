"""Scheduler tables: APScheduler's job store, the leader lock, connectors (scheduler work)."""

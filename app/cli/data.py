"""Importing people, cohorts and events, and seeding the demo company (filled in by issues)."""

"""``liftoff import events`` (implemented by the KPI work)."""

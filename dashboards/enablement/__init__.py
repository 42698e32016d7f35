"""enablement."""

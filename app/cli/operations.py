"""Jobs and the scheduler (filled in by the scheduler issue)."""

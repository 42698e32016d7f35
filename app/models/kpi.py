"""KPI rollups and monthly closes (defined by the KPI work)."""

"""kpi_reads."""

"""The People & cohorts page: cohorts and their members, edited with the people picker."""

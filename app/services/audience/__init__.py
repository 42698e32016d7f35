"""audience: who belongs where, when, and whom a rollout stage reaches.

Below the rooms that change people (people/) and rollouts (rollout/) and those that read both
(enablement/, rollups/, kpi_reads/, review/): each of them may use it, it uses none of them.
"""

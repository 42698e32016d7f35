"""The schema layer: one pydantic v2 model for every body the API takes, every CSV row the imports
read, the playbook files and the connector configuration.

A model says what an input looks like (fields, types, bounds from ``app/plausible.py``); the
service that consumes it parses with ``app.schemas.common.parse`` and adds the checks that need
the database (an unknown cohort, a person outside a stage's audience). The OpenAPI document is
generated from the same models (``app/api/openapi.py``), so what the document says and what the
service accepts cannot drift apart. Every validation error reaches the caller in the contract's
shape through one mapping, ``common.details_of``.
"""

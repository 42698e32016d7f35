"""Request bodies as pydantic v2 models, one module per area (validated at the API's edge)."""

"""What each API view takes and answers, declared on the view itself:

    @bp.post("/features")
    @requires("features:write")
    @accepts(FeatureIn)                      # the body: a pydantic model (app/schemas/)
    @answers(ref("Feature"), 201)            # the answer: a schema of app/schemas/responses.py
    def create_feature(): ...

``json_body()`` (app/api/__init__.py) reads the declaration of the endpoint being served;
``app/api/openapi.py`` generates the document from all of them. A /api/v1 view without
``@answers`` breaks the document (and its test), so nothing can go undocumented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import get_args

from pydantic import BaseModel

BLUEPRINT = "api"


@dataclass
class Declared:
    """One view's declaration: its body (``model``, an array of them when ``many``) and answer."""

    model: type[BaseModel] | None = None
    many: bool = False
    required: bool = True
    max_items: int | None = None
    rows_field: str = "(body)"
    response: dict | None = None
    status: int = 200
    query: dict[str, dict] = field(default_factory=dict)
    media_type: str = "application/json"


DECLARED: dict[str, Declared] = {}


def _entry(view: Callable) -> Declared:
    return DECLARED.setdefault(f"{BLUEPRINT}.{view.__name__}", Declared())


def accepts(model: type[BaseModel], *, many: bool = False, required: bool = True,
            max_items: int | None = None, rows_field: str = "(body)") -> Callable:
    """The view's JSON body is ``model`` (an array of at most ``max_items`` when ``many``; a longer
    one is refused naming ``rows_field``); ``required=False``: an empty body is the model's
    defaults."""
    if many and any(_nested(f.annotation) for f in model.model_fields.values()):
        # json_body refuses unknown fields of array rows by their keys alone (no second parse of
        # 10,000 rows): that is only complete for flat rows.
        raise TypeError(f"{model.__name__}: the rows of an array body must be flat models")

    def declare(view: Callable) -> Callable:
        entry = _entry(view)
        entry.model, entry.many, entry.required = model, many, required
        entry.max_items, entry.rows_field = max_items, rows_field
        return view
    return declare


def _nested(annotation) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_nested(arg) for arg in get_args(annotation))


def answers(response: dict, status: int = 200, *, query: dict[str, dict] | None = None,
            media_type: str = "application/json") -> Callable:
    """The view answers ``response`` (a JSON schema) with ``status``; ``query`` its parameters."""
    def declare(view: Callable) -> Callable:
        entry = _entry(view)
        entry.response, entry.status, entry.query, entry.media_type = (
            response, status, query or {}, media_type)
        return view
    return declare


def declared(endpoint: str | None) -> Declared | None:
    return DECLARED.get(endpoint or "")

"""GET /api/docs: the API reference page, rendered on the server from /api/openapi.json, with no
external asset (no CDN) and every operation and schema of the document on it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from app.api.reference import type_text


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]

    def handle_data(self, data):
        self.text.append(data)


def test_the_page_lists_every_operation_and_schema_from_local_assets_only(client):
    document = client.get("/api/openapi.json").get_json()
    response = client.get("/api/docs")  # public, like the document: no credentials
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    parser = Links()
    parser.feed(page)
    assert parser.urls and all(url.startswith(("#", "/")) for url in parser.urls), parser.urls
    assert "<script" not in page and "http://" not in page and "https://" not in page
    text = " ".join(" ".join(parser.text).split())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f'id="{operation["operationId"]}"' in page, (method, path)
            assert f"{method.upper()} {path}" in text, (method, path)
            if "x-permission" in operation:
                assert f"Permission: {operation['x-permission']}" in text
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert re.search(r'<html lang="en">', page)
    for junk in ("None", "undefined", "nan"):
        assert f">{junk}<" not in page


def test_types_in_words():
    assert type_text({"$ref": "#/components/schemas/Feature"}) == "Feature"
    assert type_text({"type": "array", "items": {"$ref": "#/components/schemas/Cohort"}}) == "array of Cohort"
    assert type_text({"type": ["string", "null"]}) == "string or null"
    assert type_text({"type": "string", "enum": ["a", "b"]}) == 'string ("a", "b")'
    assert type_text(None) == ""

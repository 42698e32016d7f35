"""HTTP JSON source: GET with an auth header (its secret read from an environment variable, so the
YAML can live in git), records found at ``records_path``, and pagination by page number, cursor or
next-page URL. A source that is down, slow, or answers something other than JSON records fails
the run with the page named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import requests

from app.connectors import Batch, SourceError
from app.connectors.config import ConnectorConfig


def dig(document: Any, path: str | None) -> Any:
    """``document`` at a dotted ``path`` ("data.items"); the document itself for no path."""
    for part in (path or "").split("."):
        if not part:
            continue
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def auth_headers(source: dict, name: str) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (source.get("headers") or {}).items()}
    if source.get("auth_env"):
        secret = os.environ.get(source["auth_env"])
        if not secret:
            raise SourceError(f"{name}: environment variable {source['auth_env']} is not set")
        headers[source.get("auth_header", "Authorization")] = source.get("auth_prefix", "Bearer ") + secret
    return headers


def get_json(url: str, params: dict, headers: dict, timeout: float, where: str) -> Any:
    try:
        response = requests.get(url, params=params, headers=headers, timeout=timeout)
    except requests.Timeout as error:
        raise SourceError(f"{where}: no answer within {timeout:g}s") from error
    except requests.RequestException as error:
        raise SourceError(f"{where}: cannot reach the source: {error.__class__.__name__}") from error
    if response.status_code != 200:
        raise SourceError(f"{where}: answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        return response.json()
    except ValueError as error:
        raise SourceError(f"{where}: the answer is not JSON") from error


def batches(config: ConnectorConfig, full: bool, hooks) -> Iterator[Batch]:
    source = config.source
    headers = auth_headers(source, config.name)
    timeout = float(source.get("timeout_seconds", 10))
    pagination = source.get("pagination") or {}
    style = pagination.get("style")
    url, params = source["url"], {}
    page = int(pagination.get("start", 1))
    if style == "page":
        params[pagination.get("param", "page")] = page
        if pagination.get("size_param"):
            params[pagination["size_param"]] = int(pagination.get("size", 100))
    for number in range(1, int(source.get("max_pages", 1000)) + 1):
        where = f"{config.name} page {number}"
        document = get_json(url, params, headers, timeout, where)
        records = dig(document, source.get("records_path"))
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SourceError(f"{where}: records_path {source.get('records_path') or '(top level)'!r} "
                              "is not a list of objects")
        yield Batch([(f"page {number} item {i + 1}", r) for i, r in enumerate(records)], where=where)
        if style == "page":
            size = int(pagination.get("size", 0) or 0)
            if not records or (size and len(records) < size):
                return
            page += 1
            params[pagination.get("param", "page")] = page
        elif style == "cursor":
            cursor = dig(document, pagination.get("cursor_path", "next_cursor"))
            if not cursor:
                return
            params[pagination.get("param", "cursor")] = cursor
        elif style == "next_url":
            next_url = dig(document, pagination.get("next_path", "next"))
            if not next_url:
                return
            url, params = requests.compat.urljoin(url, next_url), {}
        else:
            return
    limit = source.get("max_pages", 1000)
    raise SourceError(f"{config.name}: more than {limit} pages; raise source.max_pages")

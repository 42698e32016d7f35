"""HTTP JSON source: GET with an auth header (its secret read from an environment variable, so the
YAML can live in git), records found at ``records_path``, and pagination by page number, cursor or
next-page URL. A source that is down, slow, or answers something other than JSON records fails
the run with the page named.

The remote side chooses the next-page URL and the answers, so it must not be able to steer the
connector: next-page links are followed only on the configured origin (scheme, host and port),
redirects are never followed (the auth header would go with them), a link-local or cloud metadata
address is refused unless the connector allows it, and an error answer is recorded as its status
code alone, never its body."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from app.connectors import Batch, SourceError
from app.connectors.config import ConnectorConfig

# Instance metadata services hand out cloud credentials to whoever asks from the host. Link-local
# ranges (169.254.0.0/16, fe80::/10) cover AWS, GCP, Azure IMDS and ECS; these are the others.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16",
))
DEFAULT_PORTS = {"http": 80, "https": 443}


def dig(document: Any, path: str | None) -> Any:
    """``document`` at a dotted ``path`` ("data.items"); the document itself for no path."""
    for part in (path or "").split("."):
        if not part:
            continue
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def auth_headers(source: dict) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (source.get("headers") or {}).items()}
    if source.get("auth_env"):
        secret = os.environ.get(source["auth_env"])
        if not secret:
            raise SourceError(f"environment variable {source['auth_env']} is not set")
        headers[source.get("auth_header", "Authorization")] = source.get("auth_prefix", "Bearer ") + secret
    return headers


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the port filled in for http and https."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # not a port: never equal to a real origin's
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def forbidden_address(address: str) -> bool:
    """True for link-local and cloud metadata addresses (IPv4-mapped IPv6 included)."""
    ip = ipaddress.ip_address(address.split("%")[0])  # fe80::1%eth0
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip in METADATA_ADDRESSES


def check_address(url: str, allow_link_local: bool, where: str) -> None:
    """Refuse a URL whose host is or resolves to a link-local or metadata address.

    The name is resolved again when requests connects; a DNS answer that changes in between is not
    caught here (docs/connectors.md).
    """
    scheme, host, port = origin(url)
    if scheme not in DEFAULT_PORTS or not host:
        raise SourceError(f"{where}: not an http(s) URL")
    if allow_link_local:
        return
    try:
        # An IP socket address starts with its host as text (the stubs allow an int for other families).
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError) as error:
        raise SourceError(f"{where}: the host name {host} does not resolve") from error
    for address in sorted(found):
        if forbidden_address(address):
            raise SourceError(f"{where}: {host} is a link-local or cloud metadata address ({address}); "
                              "refused (source.allow_link_local: true allows it)")


def cause(error: BaseException) -> str:
    """Why a request failed, in words, from the exception chain requests and urllib3 build."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror) or type(current).__name__ == "NameResolutionError":
            return "the host name does not resolve"
        if isinstance(current, ssl.SSLCertVerificationError):
            return "its TLS certificate is not trusted"
        if isinstance(current, ssl.SSLError):
            return "the TLS handshake failed"
        if isinstance(current, ConnectionResetError):
            return "the connection was reset"
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))]
        pending.extend(e for e in nested if isinstance(e, BaseException))
    return f"cannot reach the source ({type(error).__name__})"


def get_json(url: str, params: dict, headers: dict, timeout: float, where: str, *,
             allow_link_local: bool = False) -> Any:
    """GET ``url`` and return its JSON; redirects are not followed, so headers go to ``url`` only."""
    check_address(url, allow_link_local, where)
    try:
        response = requests.get(url, params=params, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout as error:
        raise SourceError(f"{where}: no answer within {timeout:g}s") from error
    except requests.RequestException as error:
        raise SourceError(f"{where}: {cause(error)}") from error
    if response.status_code != 200:
        # The body is the remote side's to fill: record the status only.
        try:
            phrase = f" {HTTPStatus(response.status_code).phrase}"
        except ValueError:
            phrase = ""
        moved = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
        raise SourceError(f"{where}: answered HTTP {response.status_code}{phrase}{moved}")
    try:
        return response.json()
    except ValueError as error:
        raise SourceError(f"{where}: the answer is not JSON") from error


def batches(config: ConnectorConfig, full: bool, hooks) -> Iterator[Batch]:
    source = config.source
    headers = auth_headers(source)
    timeout = float(source.get("timeout_seconds", 10))
    allow_link_local = bool(source.get("allow_link_local", False))
    pagination = source.get("pagination") or {}
    style = pagination.get("style")
    url, params = source["url"], {}
    home = origin(url)
    page = int(pagination.get("start", 1))
    if style == "page":
        params[pagination.get("param", "page")] = page
        if pagination.get("size_param"):
            params[pagination["size_param"]] = int(pagination.get("size", 100))
    for number in range(1, int(source.get("max_pages", 1000)) + 1):
        where = f"page {number}"
        document = get_json(url, params, headers, timeout, where, allow_link_local=allow_link_local)
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
            if not isinstance(next_url, str):
                raise SourceError(f"{where}: the next-page link is not a URL")
            url, params = urljoin(url, next_url.strip()), {}
            if origin(url) != home:
                # The remote side picked it: following would hand our credentials to another host.
                raise SourceError(f"{where}: the next-page link leaves {home[0]}://{home[1]}:{home[2]}; "
                                  "refused, nothing was sent there")
        else:
            return
    limit = source.get("max_pages", 1000)
    raise SourceError(f"more than {limit} pages; raise source.max_pages")

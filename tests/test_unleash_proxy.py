"""The Unleash Proxy (npm ``@unleash/proxy``, the documented way to serve fleets of frontend SDKs)
in front of Liftoff's client API: it polls ``/api/client/features`` with a client token, runs the
Node SDK's engine, and answers ``/proxy`` for a context. For every person its answer (enabled and
variant, with payload) must be the audience Liftoff's exposure history gives, and Liftoff's own
frontend API must answer the same, before and after a weight change (docs/operations.md)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import requests

from app.db import db, utcnow
from app.services.accounts.access import create_token
from app.services.rollout import variants
from tests import npm_cache
from tests.test_variants_sdk import SPLIT, _liftoff, _settle, company  # noqa: F401  (the fixture)

pytestmark = pytest.mark.node  # needs Node.js and npm; `make test-fast` leaves it out

PROXY = "1.4.19"
DRIVER = Path(__file__).resolve().parent / "unleash_proxy.cjs"
CLIENT_KEY = "proxy-client-key-for-tests"


@pytest.fixture
def proxy(live_server, client_token):
    """The proxy on a free port of 127.0.0.1, polling the live app every 200 ms."""
    folder = npm_cache.install("@unleash/proxy", PROXY, folder="unleash-proxy")
    module = folder / "node_modules" / "@unleash" / "proxy"
    job = {"module": str(module), "url": f"{live_server.url}/api", "token": client_token,
           "clientKey": CLIENT_KEY, "refreshInterval": 200}
    node = subprocess.Popen([npm_cache.require("node"), str(DRIVER)],  # noqa: S603
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert node.stdin is not None and node.stdout is not None
        node.stdin.write(json.dumps(job))
        node.stdin.close()
        line = node.stdout.readline()
        assert line.startswith("listening "), (line, node.stderr.read() if node.stderr else "")
        url = f"http://127.0.0.1:{int(line.split()[1])}/proxy"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready once its SDK has fetched the flags once
            try:
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the proxy never became ready")
        yield url
    finally:
        node.kill()
        node.wait(timeout=10)


def _proxy_answers(url: str, users: list[str]) -> dict[str, tuple[str, dict | None]]:
    """What the proxy answers each user for `drafts`: the variant ("disabled" when off) and payload."""
    out = {}
    with requests.Session() as http:
        for user in users:
            reply = http.get(url, params={"userId": user}, headers={"Authorization": CLIENT_KEY}, timeout=10)
            assert reply.status_code == 200, reply.text
            toggle = next((t for t in reply.json()["toggles"] if t["name"] == "drafts"), None)
            if toggle is None:  # the proxy lists only the flags that are on for the context
                out[user] = ("disabled", None)
                continue
            variant = toggle["variant"]
            payload = variant.get("payload")
            out[user] = (variant["name"], json.loads(payload["value"]) if payload else None)
    return out


def _frontend_answers(base: str, token: str, users: list[str]) -> dict[str, str]:
    out = {}
    with requests.Session() as http:
        for user in users:
            reply = http.get(f"{base}/api/frontend", params={"userId": user},
                             headers={"Authorization": token}, timeout=10)
            assert reply.status_code == 200, reply.text
            toggle = next((t for t in reply.json()["toggles"] if t["name"] == "drafts"), None)
            out[user] = toggle["variant"]["name"] if toggle else "disabled"
    return out


def _wait(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_the_proxy_answers_the_audience_and_variant_liftoff_gives(app, live_server, company, proxy):  # noqa: F811
    _, frontend_token = create_token("frontend", "production", name="web app")
    db.session.commit()
    payloads = {s["name"]: s.get("payload") for s in SPLIT}

    def check() -> dict[str, str]:
        want = _liftoff(company, utcnow())
        seen = _proxy_answers(proxy, company)
        assert {u: name for u, (name, _) in seen.items()} == want
        assert all(payload == payloads.get(name) for name, payload in seen.values() if name != "disabled")
        assert _frontend_answers(live_server.url, frontend_token, company) == want
        return want

    before = check()
    # The scenario is what it claims: people off and on, every variant served.
    assert set(before.values()) == {"disabled", "gpt", "claude", "mistral"}

    _settle()
    variants.define("drafts", {"variants": [{**SPLIT[0], "weight": 10}, {**SPLIT[1], "weight": 30},
                                            {**SPLIT[2], "weight": 60}]}, "ana")
    db.session.commit()
    assert _wait(lambda: {u: n for u, (n, _) in _proxy_answers(proxy, company).items()} != before)
    after = check()
    assert sum(v == "mistral" for v in after.values()) > sum(v == "mistral" for v in before.values())

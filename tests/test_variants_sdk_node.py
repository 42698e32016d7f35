"""The official Node SDKs against the live app, for a feature with variants: the server-side
``unleash-client`` through the client API and the browser's ``unleash-proxy-client`` through the
frontend API must each answer every person the variant Liftoff's exposure history gives, before
and after a weight change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.db import db, utcnow
from app.services.accounts.access import create_token
from app.services.rollout import variants
from tests import npm_cache
from tests.test_frontend_sdk_node import VERSION as BROWSER_SDK
from tests.test_frontend_sdk_node import _browser_sdk
from tests.test_variants_sdk import SPLIT, _liftoff, _settle, company  # noqa: F401  (the fixture)

pytestmark = pytest.mark.node  # needs Node.js and npm; `make test-fast` leaves it out

SERVER_SDK = "6.12.2"
DRIVER = Path(__file__).resolve().parent / "server_sdk.cjs"


def _node_sdk(live_server, token: str, users: list[str]) -> dict:
    module = npm_cache.install("unleash-client", SERVER_SDK) / "node_modules" / "unleash-client"
    job = {"module": str(module), "url": f"{live_server.url}/api", "token": token, "feature": "drafts",
           "users": users}
    done = subprocess.run([npm_cache.require("node"), str(DRIVER)], input=json.dumps(job),  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_node_sdks_answer_the_exposure_historys_variant(app, live_server, company, client_token):  # noqa: F811
    _, frontend_token = create_token("frontend", "production", name="web app")
    db.session.commit()
    assert BROWSER_SDK
    for _round in ("before", "after"):
        want = _liftoff(company, utcnow())
        server = _node_sdk(live_server, client_token, company)
        assert server["variants"] == want
        gpt = next(u for u, v in want.items() if v == "gpt")
        assert json.loads(server["payloads"][gpt]) == {"vendor": "openai", "model": "gpt-x"}
        browser = _browser_sdk(live_server, frontend_token, company, post=False)
        assert {u: per_user["drafts"] for u, per_user in browser["variants"].items()} == want
        _settle()
        variants.define("drafts", {"variants": [{**SPLIT[0], "weight": 10}, {**SPLIT[1], "weight": 30},
                                                {**SPLIT[2], "weight": 60}]}, "ana")
        db.session.commit()

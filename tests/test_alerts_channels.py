"""Alerts reach a real local webhook receiver and a real local SMTP server, globally and per feature."""

from __future__ import annotations

import pytest

from app.alerts import add_channel, channels_for, send_alert
from app.db import db
from app.errors import NotFound, ValidationFailed
from tests.helpers import gen_feature
from tests.scheduler_support import Recorder, SmtpSink


def test_webhook_gets_slack_compatible_json(app):
    with Recorder() as hook:
        app.config["ALERT_WEBHOOK_URL"] = f"{hook.url}/services/T0/B0/x"
        reached = send_alert("Job pull:crm failed", "row 3: occurred_at: no offset",
                             fields={"job": "pull:crm"})
    assert reached == [f"{hook.url}/services/T0/B0/x"]
    request = hook.requests[0]
    assert request["method"] == "POST" and request["path"] == "/services/T0/B0/x"
    payload = request["json"]
    assert payload["text"] == "*Job pull:crm failed*"
    attachment = payload["attachments"][0]
    assert attachment["text"] == "row 3: occurred_at: no offset"
    assert attachment["fields"] == [{"title": "job", "value": "pull:crm", "short": True}]


def test_email_goes_through_smtp(app):
    with SmtpSink() as smtp:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_FROM="ops@liftoff.test",
                          ALERT_EMAILS="a@example.com, b@example.com")
        reached = send_alert("Job refresh-kpis failed", "database is locked")
    assert reached == ["a@example.com", "b@example.com"]
    assert [m["to"] for m in smtp.messages] == [["a@example.com"], ["b@example.com"]]
    assert smtp.messages[0]["from"] == "ops@liftoff.test"
    assert "Subject: [Liftoff] Job refresh-kpis failed" in smtp.messages[0]["data"]
    assert "database is locked" in smtp.messages[0]["data"]


def test_feature_channels_hear_only_their_feature(app):
    mine, other = gen_feature("summaries"), gen_feature("translations")
    add_channel("webhook", "http://127.0.0.1:9/global")
    add_channel("email", "pm@example.com", mine.key)
    add_channel("email", "other@example.com", other.key)
    db.session.commit()
    assert channels_for("summaries") == [
        ("webhook", "http://127.0.0.1:9/global"), ("email", "pm@example.com"),
    ]
    assert channels_for(None) == [("webhook", "http://127.0.0.1:9/global")]


def test_a_broken_channel_does_not_stop_the_others(app):
    with Recorder() as hook:
        add_channel("webhook", "http://127.0.0.1:9/nobody-listens")
        add_channel("webhook", f"{hook.url}/ok")
        reached = send_alert("t", "x")
    assert reached == [f"{hook.url}/ok"]
    assert len(hook.requests) == 1


def test_a_webhook_answering_an_error_counts_as_not_reached(app):
    with Recorder() as hook:
        hook.routes["/hook"] = (500, {"error": "down"})
        app.config["ALERT_WEBHOOK_URL"] = f"{hook.url}/hook"
        assert send_alert("t", "x") == []


def test_channels_are_validated(app):
    with pytest.raises(ValidationFailed) as error:
        add_channel("webhook", "not-a-url")
    assert error.value.details[0].field == "target"
    with pytest.raises(ValidationFailed):
        add_channel("pager", "x")
    with pytest.raises(NotFound):
        add_channel("email", "a@example.com", "no-such-feature")


def test_cli_alerts_test_reports_who_was_reached(app, runner):
    with Recorder() as hook:
        add_channel("webhook", f"{hook.url}/cli")
        db.session.commit()
        result = runner.invoke(args=["liftoff", "alerts", "test"])
    assert result.exit_code == 0, result.output
    assert f"{hook.url}/cli" in result.output and len(hook.requests) == 1

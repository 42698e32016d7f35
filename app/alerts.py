"""Telling an operator: Slack-compatible webhooks and SMTP e-mail, set globally (settings or
channels without a feature) and per feature (channels of that feature).

Settings (app config, else the LIFTOFF_-prefixed environment variable): ALERT_WEBHOOK_URL,
ALERT_EMAILS (comma-separated), SMTP_HOST, SMTP_PORT (25), SMTP_USER, SMTP_PASSWORD,
SMTP_FROM (liftoff@localhost), SMTP_STARTTLS (0/1). Sending never raises: an alert that cannot be
delivered is logged, and the job's own record already holds the failure.
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any, overload

import requests
from flask import current_app
from sqlalchemy import ColumnElement, or_, select

from app.db import db
from app.errors import Collector, NotFound
from app.models import Feature, JobRun
from app.models.scheduling import ALERT_KINDS, AlertChannel

log = logging.getLogger(__name__)


# With a default the answer is always text; without one it may be missing.
@overload
def setting(name: str) -> str | None: ...


@overload
def setting(name: str, default: str) -> str: ...


def setting(name: str, default: str | None = None) -> str | None:
    value = current_app.config.get(name)
    if value in (None, ""):
        value = os.environ.get(f"LIFTOFF_{name}", default)
    return value if value not in (None, "") else default


def channels_for(feature_key: str | None) -> list[tuple[str, str]]:
    """(kind, target) pairs that hear about ``feature_key``: global settings, global channels, and
    the feature's own channels; each target once."""
    found: list[tuple[str, str]] = []
    if url := setting("ALERT_WEBHOOK_URL"):
        found.append(("webhook", url))
    for address in (setting("ALERT_EMAILS") or "").split(","):
        if address.strip():
            found.append(("email", address.strip()))
    scope: ColumnElement[bool] = AlertChannel.feature_id.is_(None)
    if feature_key:
        feature_id = select(Feature.id).where(Feature.key == feature_key).scalar_subquery()
        scope = or_(scope, AlertChannel.feature_id == feature_id)
    rows = db.session.execute(
        select(AlertChannel.kind, AlertChannel.target).where(AlertChannel.enabled, scope)
        .order_by(AlertChannel.id)
    ).all()
    found.extend((kind, target) for kind, target in rows)
    return list(dict.fromkeys(found))


def send_alert(title: str, text: str, feature_key: str | None = None,
               fields: dict[str, str] | None = None) -> list[str]:
    """Send to every channel of ``feature_key`` (and the global ones); returns the targets reached.

    :param title: one line, e.g. "Job pull:helpdesk failed".
    :param text: the body (the error text).
    :param feature_key: also reach this feature's channels.
    :param fields: short key/value facts shown beside the text.
    """
    fields = fields or {}
    delivered = []
    for kind, target in channels_for(feature_key):
        try:
            if kind == "webhook":
                post_webhook(target, title, text, fields)
            else:
                send_email(target, title, text, fields)
            delivered.append(target)
        except Exception:  # a broken channel must not hide the others
            log.exception("alert %r could not be sent to %s %s", title, kind, target)
    return delivered


def post_webhook(url: str, title: str, text: str, fields: dict[str, str]) -> None:
    """Slack's incoming-webhook shape (``text`` + an attachment), understood by most chat tools."""
    payload: dict[str, Any] = {  # JSON: text, and lists of objects
        "text": f"*{title}*",
        "attachments": [{
            "color": "danger",
            "title": title,
            "text": text,
            "fields": [{"title": k, "value": v, "short": True} for k, v in fields.items()],
        }],
    }
    timeout = float(setting("ALERT_TIMEOUT_SECONDS", "10"))
    response = requests.post(url, json=payload, timeout=timeout)
    response.raise_for_status()


def send_email(to: str, title: str, text: str, fields: dict[str, str]) -> None:
    message = EmailMessage()
    message["Subject"] = f"[Liftoff] {title}"
    message["From"] = sender()
    message["To"] = to
    facts = "".join(f"{k}: {v}\n" for k, v in fields.items())
    message.set_content(f"{title}\n\n{facts}\n{text}\n")
    with smtp_connection() as smtp:
        smtp.send_message(message)


def sender() -> str:
    """The From address of every mail Liftoff sends (SMTP_FROM)."""
    return setting("SMTP_FROM", "liftoff@localhost")


@contextlib.contextmanager
def smtp_connection() -> Iterator[smtplib.SMTP]:
    """A connection to the SMTP server of the settings (SMTP_HOST, SMTP_PORT, SMTP_STARTTLS,
    SMTP_USER, SMTP_PASSWORD), logged in when a user is set; closed on leaving. Raises what
    smtplib raises: callers decide how a failure is reported."""
    host = setting("SMTP_HOST", "127.0.0.1")
    port = int(setting("SMTP_PORT", "25"))
    with smtplib.SMTP(host, port, timeout=float(setting("ALERT_TIMEOUT_SECONDS", "10"))) as smtp:
        if setting("SMTP_STARTTLS", "0") == "1":
            smtp.starttls()
        if user := setting("SMTP_USER"):
            smtp.login(user, setting("SMTP_PASSWORD", ""))
        yield smtp


def job_failed(run: JobRun, feature_key: str | None = None) -> list[str]:
    """Alert that ``run`` failed after its last attempt."""
    return send_alert(
        f"Job {run.job} failed",
        run.error or "(no error text)",
        feature_key,
        {"job": run.job, "attempt": str(run.attempt), "trigger": run.trigger,
         "started": f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC"},
    )


def add_channel(kind: str, target: str, feature_key: str | None = None) -> AlertChannel:
    """Register an alert channel (global when ``feature_key`` is None); never commits.

    :param kind: ``webhook`` (a URL) or ``email`` (an address).
    :param target: where to send.
    :param feature_key: the feature whose alerts it receives.
    """
    problems = Collector()
    if kind not in ALERT_KINDS:
        problems.add("kind", f"must be one of {', '.join(ALERT_KINDS)}")
    if kind == "webhook" and not target.startswith(("http://", "https://")):
        problems.add("target", "a webhook target must be an http(s) URL")
    if kind == "email" and "@" not in target:
        problems.add("target", "an e-mail target must be an address")
    problems.raise_if_any("invalid alert channel")
    feature_id = None
    if feature_key:
        feature_id = db.session.scalar(select(Feature.id).where(Feature.key == feature_key))
        if feature_id is None:
            raise NotFound(f"no feature {feature_key!r}")
    channel = AlertChannel(kind=kind, target=target, feature_id=feature_id)
    db.session.add(channel)
    db.session.flush()
    return channel

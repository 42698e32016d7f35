"""The monthly report e-mailed after the monthly close, through a real local SMTP server
(tests/scheduler_support.SmtpSink), on scenario A of tests/kpi_scenarios.py; subscriptions by the
CLI and by the dashboard's write function (the Dash callback itself: test_report_subscription.py)."""

from __future__ import annotations

import email
import io
import json
import logging
import socket
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.db import db
from app.errors import NotFound, ValidationFailed
from app.formats import euro, pct
from app.jobs import JOBS, JobSpec
from app.jobs.kpi import monthly_close
from app.jobs.runner import run_job
from app.models import AuditEntry, User
from app.models.kpi import MonthlyClose
from app.services.accounts.access import create_user
from app.services.kpi_reads import figures as kpis
from app.services.reporting import closes, monthly_report, report_mail
from dashboards.enablement.data import recent_runs
from dashboards.kpi.actions import NotAllowed, set_own_report_subscription
from tests.kpi_scenarios import draft_company_with_costs, event, post_events
from tests.scheduler_support import Recorder, SmtpSink

OCT_VALUE = 13 + 2 + 14 / 60 * 40  # hand-computed in tests/test_roi_monthly.py
OCT_COST = 100 + 0.1 * 6
PASSWORD = "long enough password"
SUBSCRIBED = ["boss@liftoff.test", "exec@liftoff.test"]  # the admin and the executive, by address


def close_then_fail(month: str):
    """The real close, then a failure before the runner commits: everything rolls back."""
    monthly_close(month)
    raise RuntimeError("disk full after the close")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def scenario(app, client, ingest_headers, admin_headers, monkeypatch):
    """Scenario A (October 2026: value and a 100 EUR licence) and users of every kind: subscribed
    executive and admin, an executive who did not subscribe, a subscribed one who left (inactive),
    and a product user flagged from an earlier role (no report for that role)."""
    draft_company_with_costs(client, ingest_headers, admin_headers)
    for address, role, subscribed, active in [
        ("exec@liftoff.test", "executive", True, True), ("boss@liftoff.test", "admin", True, True),
        ("quiet@liftoff.test", "executive", False, True), ("gone@liftoff.test", "executive", True, False),
        ("moved@liftoff.test", "product", True, True), ("cm@liftoff.test", "change_manager", False, True),
    ]:
        user = create_user(address, role, PASSWORD)
        user.monthly_report, user.active = subscribed, active
    db.session.commit()
    app.config["JOB_RETRY_BASE_SECONDS"] = 0.01
    monkeypatch.setattr("app.jobs.JOBS", [*JOBS, JobSpec(
        "test-close-fails", "tests.test_report_mail:close_then_fail", "every 1m", "rolls back",
        kwargs={"month": "2026-10"})])


@pytest.fixture
def smtp(app):
    with SmtpSink() as sink:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_FROM="reports@liftoff.test")
        yield sink


def close(monkeypatch, month: str, status: str = "success"):
    """The registered monthly-close job, as the scheduler runs it, for ``month``."""
    monkeypatch.setattr(closes, "previous_month", lambda today=None: month)
    run = run_job("monthly-close")
    assert run.status == status, run.error
    return run


def parsed(message: dict) -> email.message.EmailMessage:
    # As a mail server delivers it: the wire's CRLF line ends become newlines.
    return email.message_from_string(message["data"].replace("\r\n", "\n"), policy=policy.default)


def parts(message: email.message.EmailMessage) -> tuple[str, str, list]:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html, list(message.iter_attachments())


def test_each_active_subscriber_gets_one_mail_with_the_kpi_modules_figures(scenario, smtp, monkeypatch):
    close(monkeypatch, "2026-10")
    assert sorted(m["to"][0] for m in smtp.messages) == SUBSCRIBED
    assert all(len(m["to"]) == 1 and m["from"] == "reports@liftoff.test" for m in smtp.messages)
    total = kpis.monthly_roi("2026-10")["total"]
    assert total["value_eur"] == pytest.approx(OCT_VALUE) and total["cost_eur"] == pytest.approx(OCT_COST)
    for raw in smtp.messages:
        to = raw["to"][0]
        message = parsed(raw)
        assert message["Subject"] == "Liftoff ROI report — 2026-10"
        assert message["To"] == to  # nobody sees who else gets it
        assert message["Date"] and message["Message-ID"].endswith("@liftoff.test>")
        assert all(other not in raw["data"] for other in SUBSCRIBED if other != to)
        text, html, attachments = parts(message)
        assert "Liftoff ROI report — 2026-10 (closed)" in text
        for label, figure in [("Value", euro(total["value_eur"])), ("Cost", euro(total["cost_eur"])),
                              ("Net", euro(total["net_eur"])), ("ROI", pct(total["roi_pct"], 0, 1)),
                              ("Payback", total["payback_month"] or "not yet")]:
            line = next(line for line in text.splitlines() if line.startswith(label + ":"))
            assert line.split(":", 1)[1].split("  (")[0].strip() == figure, line
        assert euro(OCT_VALUE - OCT_COST) in text and "Restated" not in text
        # The HTML body is the printable report itself, for this reader, without the print button.
        expected = monthly_report.render(monthly_report.report_context("2026-10", to), printable=False)
        assert html.rstrip("\n") == expected
        assert "AI features: return on investment, 2026-10" in html and "window.print" not in html
        # Besides the printable page, the board report as PDF (issue 17): two attachments now.
        attached, board = attachments
        assert board.get_filename() == "liftoff-board-report-2026-10.pdf"
        assert board.get_content_type() == "application/pdf"
        assert board.get_content().startswith(b"%PDF-")
        assert "AI features: board report, 2026-10" in "".join(
            page.extract_text() for page in PdfReader(io.BytesIO(board.get_content())).pages)
        assert attached.get_filename() == "liftoff-roi-2026-10.html"
        assert attached.get_content_type() == "text/html"
        page = attached.get_content()
        page = page.decode() if isinstance(page, bytes) else page
        assert "window.print()" in page and "@media print" in page and f"report for {to}" in page


def test_a_rerun_that_closes_nothing_new_sends_nothing_again(scenario, smtp, monkeypatch):
    close(monkeypatch, "2026-10")
    assert len(smtp.messages) == 2
    again = close(monkeypatch, "2026-10")
    assert again.status == "success" and len(smtp.messages) == 2


def test_a_close_that_rolls_back_sends_nothing(scenario, smtp):
    run = run_job("test-close-fails")
    assert run.status == "failed" and "disk full" in run.error
    assert smtp.messages == []
    assert db.session.get(MonthlyClose, "2026-10") is None  # the close itself was rolled back


def test_a_close_called_outside_the_runner_sends_nothing(scenario, smtp):
    monthly_close("2026-10")  # no run, no after-commit hooks: whoever calls it owns the transaction
    db.session.commit()
    assert smtp.messages == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_smtp_down_the_close_holds_its_run_warns_and_the_failure_is_logged_and_alerted(
        scenario, app, monkeypatch, caplog):
    with Recorder() as hook:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=_closed_port(),
                          ALERT_WEBHOOK_URL=f"{hook.url}/ops")
        with caplog.at_level(logging.ERROR, logger="app.services.reporting.report_mail"):
            run = close(monkeypatch, "2026-10", status="warning")
    # Issue 17: a close whose mail failed no longer reads "success"; its run names the failure.
    assert run.status == "warning" and run.attempt == 1
    assert "monthly report 2026-10 not e-mailed to boss@liftoff.test, exec@liftoff.test" in run.error
    assert "ConnectionRefusedError" in run.error and "liftoff reports resend --month 2026-10" in run.error
    # The Operations page lists it so, for those who may not run jobs too (its error redacted).
    (shown,) = recent_runs("monthly-close").to_dict("records")
    assert shown["status"] == "warning" and "not e-mailed" in shown["error"]
    assert "liftoff reports resend --month 2026-10" in shown["error"]
    db.session.expire_all()
    assert db.session.get(MonthlyClose, "2026-10") is not None  # the close is committed
    (record,) = [r for r in caplog.records if r.name == "app.services.reporting.report_mail"]
    assert "monthly report 2026-10 not e-mailed to boss@liftoff.test, exec@liftoff.test" in record.message
    assert "ConnectionRefusedError" in record.message
    (alert,) = hook.requests
    assert alert["json"]["text"] == "*Monthly report 2026-10 not e-mailed*"
    facts = {f["title"]: f["value"] for f in alert["json"]["attachments"][0]["fields"]}
    assert facts == {"month": "2026-10", "reached": "0", "missed": "boss@liftoff.test, exec@liftoff.test"}


def test_a_refused_recipient_does_not_stop_the_others(scenario, app, monkeypatch, caplog):
    with SmtpSink(refuse={"boss@liftoff.test"}) as sink:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port)
        with caplog.at_level(logging.ERROR, logger="app.services.reporting.report_mail"):
            run = close(monkeypatch, "2026-10", status="warning")
    assert run.error.startswith("monthly report 2026-10 not e-mailed to boss@liftoff.test: ")
    assert [m["to"] for m in sink.messages] == [["exec@liftoff.test"]]
    assert "not e-mailed to boss@liftoff.test: boss@liftoff.test:" in caplog.text


def test_earlier_months_restated_since_the_last_close_are_named(scenario, smtp, client, ingest_headers,
                                                                 monkeypatch):
    close(monkeypatch, "2026-09")
    assert {parsed(m)["Subject"] for m in smtp.messages} == {"Liftoff ROI report — 2026-09"}
    # A late September event; the October close's own refresh sees it and restates September.
    post_events(client, ingest_headers, [event("draft", "a", "2026-09-25T10:00:00Z", ai=False, duration=60)])
    close(monkeypatch, "2026-10")
    october = [parsed(m) for m in smtp.messages[2:]]
    assert len(october) == 2
    for message in october:
        assert "Restated since the last close: 2026-09." in parts(message)[0]
    assert db.session.get(MonthlyClose, "2026-09").restated_at is not None
    # Said once: the next close names it again only if it is restated again. (A month without
    # events is refused, so November gets one.)
    post_events(client, ingest_headers, [event("draft", "a", "2026-11-03T10:00:00Z", ai=False, duration=60)])
    close(monkeypatch, "2026-11")
    assert all("Restated" not in parts(parsed(m))[0] for m in smtp.messages[4:])
    assert len(smtp.messages) == 6


def _audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_failed_mail_is_resent_by_the_cli_and_audited(scenario, app, monkeypatch, runner):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=_closed_port())
    close(monkeypatch, "2026-10", status="warning")
    failed = runner.invoke(args=["liftoff", "reports", "resend", "--month", "2026-10"])
    assert failed.exit_code == 1 and "ConnectionRefusedError" in failed.output
    with SmtpSink() as sink:  # the server is back
        app.config.update(SMTP_PORT=sink.port)
        result = runner.invoke(args=["liftoff", "reports", "resend", "--month", "2026-10"])
        assert result.exit_code == 0, result.output
        assert "2026-10: report e-mailed to 2 recipient(s): " + ", ".join(SUBSCRIBED) in result.output
        assert sorted(m["to"][0] for m in sink.messages) == SUBSCRIBED
        one = runner.invoke(args=["liftoff", "reports", "resend", "--month", "2026-10",
                                  "--to", "CFO@liftoff.test"])
        assert one.exit_code == 0, one.output
        assert [m["to"] for m in sink.messages[2:]] == [["cfo@liftoff.test"]]
        assert [a.get_filename() for a in parsed(sink.messages[2]).iter_attachments()] == [
            "liftoff-roi-2026-10.html", "liftoff-board-report-2026-10.pdf"]
    db.session.expire_all()
    entries = _audits("report.resend")
    assert [(e.actor, e.entity_type, e.entity_key) for e in entries] == [
        ("cli", "monthly_close", "2026-10")] * 3
    assert [json.loads(e.after)["reached"] for e in entries] == [[], SUBSCRIBED, ["cfo@liftoff.test"]]


def test_resend_refuses_an_open_month_and_a_bad_address(scenario, smtp, runner):
    open_month = runner.invoke(args=["liftoff", "reports", "resend", "--month", "2026-10"])
    assert open_month.exit_code == 1 and "2026-10 is not closed" in open_month.output
    bad = runner.invoke(args=["liftoff", "reports", "resend", "--month", "2026-13"])
    assert bad.exit_code == 1 and "month: must be YYYY-MM" in bad.output
    assert smtp.messages == [] and _audits("report.resend") == []


# --- subscriptions ---------------------------------------------------------------------------------

def _flags() -> dict[str, bool]:
    db.session.expire_all()
    return dict(db.session.execute(select(User.email, User.monthly_report)).all())


def test_cli_subscribes_and_unsubscribes_executives_and_admins(scenario, runner):
    result = runner.invoke(args=["liftoff", "users", "report-subscription", "Quiet@liftoff.test", "--on"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "quiet@liftoff.test subscribed to the monthly report"
    assert _flags()["quiet@liftoff.test"] is True
    again = runner.invoke(args=["liftoff", "users", "report-subscription", "quiet@liftoff.test", "--on"])
    assert again.exit_code == 0 and "(no change)" in again.output
    off = runner.invoke(args=["liftoff", "users", "report-subscription", "boss@liftoff.test", "--off"])
    assert off.exit_code == 0 and "boss@liftoff.test unsubscribed from" in off.output
    assert report_mail.subscribers() == ["exec@liftoff.test", "quiet@liftoff.test"]


def test_cli_refuses_other_roles_unknown_users_and_a_missing_choice(scenario, runner):
    refused = runner.invoke(args=["liftoff", "users", "report-subscription", "cm@liftoff.test", "--on"])
    assert refused.exit_code == 1
    assert "only executives and admins receive the monthly report" in refused.output
    assert "role: cm@liftoff.test is change_manager" in refused.output
    assert _flags()["cm@liftoff.test"] is False
    unknown = runner.invoke(args=["liftoff", "users", "report-subscription", "nobody@liftoff.test", "--on"])
    assert unknown.exit_code == 1 and "no user with e-mail 'nobody@liftoff.test'" in unknown.output
    missing = runner.invoke(args=["liftoff", "users", "report-subscription", "exec@liftoff.test"])
    assert missing.exit_code == 2 and "--on" in missing.output
    helped = runner.invoke(args=["liftoff", "users", "report-subscription", "--help"])
    assert helped.exit_code == 0 and "--on / --off" in helped.output and "SMTP_HOST" in helped.output


def test_the_service_names_the_role_and_the_user(scenario):
    with pytest.raises(ValidationFailed) as error:
        report_mail.set_subscription("moved@liftoff.test", False)
    assert error.value.details[0].field == "role"
    with pytest.raises(NotFound):
        report_mail.set_subscription("", True)


def test_the_dashboard_write_changes_only_the_callers_own_flag(scenario):
    from app.security import Identity

    before = _flags()
    user = set_own_report_subscription(Identity(name="quiet@liftoff.test", role="executive"), True)
    db.session.commit()
    assert user.email == "quiet@liftoff.test"
    assert _flags() == {**before, "quiet@liftoff.test": True}
    with pytest.raises(NotAllowed):
        set_own_report_subscription(Identity(name="cm@liftoff.test", role="change_manager"), True)
    with pytest.raises(NotAllowed):  # an API token acts for nobody's inbox
        set_own_report_subscription(Identity(name="token:ops", token_kind="admin"), True)
    db.session.rollback()
    assert _flags() == {**before, "quiet@liftoff.test": True}


@pytest.mark.slow
def test_the_close_and_its_mail_import_nothing_of_the_dashboard():
    code = ("import sys, app.jobs.kpi, app.services.reporting.report_mail; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dashboards', 'dash')))")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"

"""The monthly ROI report by e-mail: who subscribed, and mailing it to them after a monthly close.

Executives and admins subscribe themselves on the Executive page, or an operator does it with
``liftoff users report-subscription EMAIL --on``. After the ``monthly-close`` job commits a new
close, each active subscriber gets one message of their own: the headline figures as text, the
one-page report as the HTML body, the printable page and the board report PDF attached. Mail
goes through the SMTP settings of app/alerts.py. Sending never raises: a failure is logged and
alerted, the close stays committed, and the close's job run ends as "warning" naming it
(``liftoff reports resend`` sends it again).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from sqlalchemy import select

from app import alerts
from app.db import db
from app.errors import Detail, NotFound, ValidationFailed
from app.models import User
from app.security import roles_with
from app.services.reporting import board_pdf, monthly_report

log = logging.getLogger(__name__)

# Who may receive the report is the permission matrix's word (app/security.py).
RECEIVE = "reports:receive"
# Refusals of one message; smtplib resets the session after them, so the others can still go.
REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
OPT_OUT = ('untick "E-mail me this report at each monthly close" on the Executive page of the '
           "dashboard, or ask an admin to run `liftoff users report-subscription {email} --off`.")


def set_subscription(email: str, on: bool) -> tuple[User, bool]:
    """Subscribe (``on``) or unsubscribe the user ``email``; never commits.

    :returns: the user and whether anything changed.
    :raises NotFound: no user has this e-mail.
    :raises ValidationFailed: naming ``role``, for a user who is neither executive nor admin.
    """
    address = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(User.email == address))
    if user is None:
        raise NotFound(f"no user with e-mail {address!r}")
    roles = roles_with(RECEIVE)
    if user.role not in roles:
        raise ValidationFailed(
            "only executives and admins receive the monthly report",
            [Detail("role", f"{user.email} is {user.role}; {' or '.join(sorted(roles))} is needed")])
    changed = user.monthly_report != on
    user.monthly_report = on
    db.session.flush()
    return user, changed


def is_subscribed(email: str) -> bool:
    return bool(db.session.scalar(select(User.monthly_report).where(User.email == email)))


def subscribers() -> list[str]:
    """The e-mail addresses the report goes to: active executives and admins who subscribed (a
    subscriber whose role changed since gets nothing)."""
    return list(db.session.scalars(
        select(User.email).where(User.monthly_report.is_(True), User.active.is_(True),
                                 User.role.in_(roles_with(RECEIVE))).order_by(User.email)))


def subject(month: str) -> str:
    return f"Liftoff ROI report — {month}"


def attachment_name(month: str) -> str:
    return f"liftoff-roi-{month}.html"


def text_body(context: dict, restated: list[str], to: str) -> str:
    """The short text part: the headline figures, the restated months, how to opt out."""
    lines = [f"{subject(context['month'])} ({context['status_text']})", ""]
    for label, value, hint in monthly_report.headline(context):
        lines.append(f"{label + ':':<9} {value}" + (f"  ({hint})" if hint else ""))
    if restated:
        lines += ["", f"Restated since the last close: {', '.join(restated)}. Their inputs changed "
                  "after they were closed (a late event, a new cost, baseline or rate); the "
                  "dashboard shows their live figures beside the figures at close."]
    lines += ["", f"The one-page report is below and attached ({attachment_name(context['month'])}, "
              "open it in a browser to print it), with the board report as PDF "
              f"({board_pdf.file_name(context['month'])}).", "",
              "You get this because you subscribed. To stop, " + OPT_OUT.format(email=to)]
    return "\n".join(lines) + "\n"


def compose(context: dict, restated: list[str], to: str, pdf: bytes | None = None) -> EmailMessage:
    """One recipient's message: text, the report as HTML body, the printable page attached, and
    the board report PDF (``pdf``) when given."""
    month = context["month"]
    personal = {**context, "viewer": to}
    sender = alerts.sender()
    message = EmailMessage()
    message["Subject"] = subject(month)
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate()
    # The sender's domain, not this host's name (looking that up can hang on a badly set-up host).
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid("liftoff-report", domain=domain)
    message.set_content(text_body(personal, restated, to))
    message.add_alternative(monthly_report.render(personal, printable=False), subtype="html")
    message.add_attachment(monthly_report.render(personal).encode(), maintype="text", subtype="html",
                           filename=attachment_name(month))
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf",
                               filename=board_pdf.file_name(month))
    return message


@dataclass
class Delivery:
    """What mailing a month's report did: who got it, who did not, and why."""

    month: str
    reached: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        """The failure as one line for a job run (None when every message went)."""
        if not self.failures:
            return None
        return (f"monthly report {self.month} not e-mailed to {', '.join(self.missed) or 'anyone'}: "
                f"{'; '.join(self.failures)}; resend with `liftoff reports resend --month {self.month}`")


def send_report(month: str, restated: list[str] | None = None) -> list[str]:
    """E-mail ``month``'s report to every subscriber, one message each; the addresses reached.

    Never raises (see ``deliver``).
    """
    return deliver(month, restated).reached


def deliver(month: str, restated: list[str] | None = None, to: list[str] | None = None) -> Delivery:
    """E-mail ``month``'s report, one message each, to ``to`` or else to every subscriber.

    Never raises: a failure (no SMTP server, a refused recipient, a report that cannot be built)
    is logged and alerted, and the others still get theirs where possible.

    :param restated: earlier months to name as restated since the last close.
    :param to: addresses to send it to instead of the subscribers (a resend).
    """
    restated = restated or []
    recipients: list[str] = []
    delivery = Delivery(month)
    reached, failures = delivery.reached, delivery.failures
    try:
        recipients = list(to) if to is not None else subscribers()
        if not recipients:
            return delivery
        context = monthly_report.report_context(month, viewer="")
        pdf = board_pdf.board_pdf(month)
        with alerts.smtp_connection() as smtp:
            for address in recipients:
                try:
                    smtp.send_message(compose(context, restated, address, pdf))
                    reached.append(address)
                except REFUSALS as error:
                    failures.append(f"{address}: {error}")
    except Exception as error:  # the close is committed whatever happens to its mail
        failures.append(f"{type(error).__name__}: {error}")
    delivery.missed = [address for address in recipients if address not in reached]
    missed = delivery.missed
    if failures:
        log.error("monthly report %s not e-mailed to %s: %s", month, ", ".join(missed) or "anyone",
                  "; ".join(failures))
        try:
            alerts.send_alert(f"Monthly report {month} not e-mailed", "\n".join(failures),
                              fields={"month": month, "reached": str(len(reached)),
                                      "missed": ", ".join(missed) or "-"})
        except Exception:  # e.g. the alert channels cannot be read either; the log above stands
            log.exception("monthly report %s: the failure could not be alerted", month)
    else:
        log.info("monthly report %s e-mailed to %d recipient(s)", month, len(reached))
    return delivery

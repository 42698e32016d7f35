"""The monthly report after the fact: send a closed month's report again (``liftoff reports resend``)."""

from __future__ import annotations

import sys
from email.utils import parseaddr

import click

from app.cli import main, transaction
from app.errors import Detail, ValidationFailed


@main.group()
def reports() -> None:
    """The monthly ROI report and the board report PDF that each monthly close e-mails."""


def _addresses(to: tuple[str, ...]) -> list[str] | None:
    """The --to addresses, checked (None: the subscribers)."""
    if not to:
        return None
    bad = [a for a in to if "@" not in parseaddr(a)[1] or parseaddr(a)[1] != a.strip()]
    if bad:
        raise ValidationFailed("invalid recipient", [Detail("to", f"not an e-mail address: {a!r}")
                                                     for a in bad])
    return [a.strip().lower() for a in to]


@reports.command("resend")
@click.option("--month", required=True, metavar="YYYY-MM", help="A closed month.")
@click.option("--to", "to", multiple=True, metavar="EMAIL",
              help="Send to this address instead of the subscribers (repeatable).")
def resend(month: str, to: tuple[str, ...]) -> None:
    """E-mail MONTH's report again (after a close whose mail failed): to the subscribers, or to
    --to. Audited; exits 1 when any message could not be sent."""
    from app.services.audit import audit
    from app.services.reporting import closes, report_mail
    from app.services.reporting.executive import check_month

    with transaction():
        check_month(month)
        if not closes.is_closed(month):
            raise ValidationFailed(f"{month} is not closed: only a closed month's report is resent",
                                   [Detail("month", "close it first with `liftoff close --month`")])
        delivery = report_mail.deliver(month, closes.restated_since_last_close(month), to=_addresses(to))
        audit("cli", "report.resend", "monthly_close", month,
              after={"to": list(to) or "subscribers", "reached": delivery.reached,
                     "missed": delivery.missed, "failures": delivery.failures})
    click.echo(f"{month}: report e-mailed to {len(delivery.reached)} recipient(s)"
               + (f": {', '.join(delivery.reached)}" if delivery.reached else ""))
    if delivery.failures:
        click.echo(f"error: {delivery.warning}", err=True)
        sys.exit(1)

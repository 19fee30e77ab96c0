"""Mail to people (invitations, password resets), through a mail outbox.

A message is a row committed in the same transaction as what caused it, so an
invitation is never created without its mail, nor a mail sent for an invitation that
rolled back. A worker sends the rows through SMTP (`SMTP_URL`) and retries with a
growing delay while the server is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.models import OutgoingMail
from services.gateway.repository import MailRepository

_log = structlog.get_logger("gateway.mail")

SENDER = "Clusterbridge <no-reply@clusterbridge.invalid>"
MAX_DELAY = timedelta(minutes=30)


def queue_mail(session: AsyncSession, to: str, subject: str, body: str) -> OutgoingMail:
    mail = OutgoingMail(
        id=uuid.uuid4(),
        to_address=to,
        subject=subject,
        body=body,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
    )
    MailRepository(session).add(mail)
    return mail


def _message(mail: OutgoingMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Message-ID"] = f"<{mail.id}@clusterbridge.invalid>"
    msg.set_content(mail.body)
    return msg


class MailSender:
    """Sends what the outbox holds; one at a time is plenty for invitations."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], smtp_url: str) -> None:
        self.sessionmaker = sessionmaker
        parts = urlsplit(smtp_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 25
        self.username = parts.username
        self.password = parts.password
        self.use_tls = parts.scheme == "smtps"
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def send_due(self) -> int:
        """Send every message that is due; returns how many went out."""
        sent = 0
        while True:
            async with self.sessionmaker() as s, s.begin():
                mail = await MailRepository(s).next_due(datetime.now(UTC))
                if mail is None:
                    return sent
                try:
                    await aiosmtplib.send(
                        _message(mail),
                        hostname=self.host,
                        port=self.port,
                        username=self.username,
                        password=self.password,
                        use_tls=self.use_tls,
                        timeout=10,
                    )
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    mail.attempts += 1
                    mail.last_error = repr(exc)[:1000]
                    delay = min(timedelta(seconds=2**mail.attempts), MAX_DELAY)
                    mail.next_attempt_at = datetime.now(UTC) + delay
                    _log.warning("mail not sent; will retry", to=mail.to_address, error=repr(exc))
                    return sent
                mail.sent_at = datetime.now(UTC)
                mail.attempts += 1
                sent += 1

    async def run(self, poll_seconds: float = 5.0) -> None:
        while True:
            try:
                await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: try again on the next round
                _log.warning("mail sender failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            self._wake.clear()

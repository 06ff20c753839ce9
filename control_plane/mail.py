"""Outgoing mail: a small interface, its SMTP adapter, and sending after the answer."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Protocol

from fastapi import BackgroundTasks

from granary_core.errors import BackendUnavailable

log = logging.getLogger("granary.control_plane")


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class SmtpMailer:
    """Plain SMTP (a local relay or sink); errors become ``BackendUnavailable``."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        # 7bit (8bit if not ASCII), never quoted-printable: the commands in the mail must
        # survive a reader that shows the raw message, as a local SMTP sink does.
        message.set_content(body, cte="7bit" if body.isascii() else "8bit")
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise BackendUnavailable(
                f"mail to {to}: SMTP server {self._host}:{self._port} refused or is unreachable: {exc}"
            ) from exc


def send_after_answer(tasks: BackgroundTasks, mailer: Mailer, to: str, subject: str, body: str) -> None:
    """Send once the HTTP answer is out, so how long mail takes tells the caller nothing
    (a known address must answer as fast as an unknown one). A failure is logged."""

    def send() -> None:
        try:
            mailer.send(to, subject, body)
        except Exception:
            log.exception("mail to %s (%s) was not sent", to, subject)

    tasks.add_task(send)

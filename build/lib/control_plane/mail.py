"""Outgoing mail: a small interface and its SMTP adapter."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Protocol

from granary.errors import BackendUnavailable


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
        message.set_content(body)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise BackendUnavailable(
                f"mail to {to}: SMTP server {self._host}:{self._port} refused or is unreachable: {exc}"
            ) from exc

"""E-mail through Django's e-mail backend (SMTP in production, the console under
``make run``). The message was rendered when the delivery was decided, so a retry sends
the same one. A mail server that refuses every recipient stops it; one that does not
answer, or fails otherwise, is tried again."""

from __future__ import annotations

import smtplib
import time

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.channels import Outcome


def unusable(delivery) -> str:
    return "" if delivery.payload.get("to") else "Nobody to send it to."


def send(delivery) -> Outcome:
    message = delivery.payload
    started = time.monotonic()
    email = EmailMultiAlternatives(
        message["subject"],
        message["text"],
        settings.DEFAULT_FROM_EMAIL,
        message["to"],
        headers={**message.get("headers", {}), "Message-ID": f"<{delivery.message_id}@beacon>"},
        connection=get_connection(timeout=settings.BEACON_WEBHOOK_TIMEOUT),
    )
    if message.get("html"):
        email.attach_alternative(message["html"], "text/html")
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as error:
        return Outcome("stop", f"The mail server refused {', '.join(error.recipients)}.")
    except (smtplib.SMTPException, OSError) as error:
        took = int((time.monotonic() - started) * 1000)
        return Outcome("retry", f"The mail server failed: {error}"[:300], duration_ms=took)
    return Outcome("done", duration_ms=int((time.monotonic() - started) * 1000))

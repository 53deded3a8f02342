import smtplib

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from core.models import Heartbeat


@shared_task(name="core.tasks.heartbeat")
def heartbeat(name: str = "worker") -> None:
    """Scheduled by beat every 30 s; /healthz and /metrics report its age."""
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})


@shared_task(
    name="core.tasks.send_email",
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=45,
    time_limit=60,
)
def send_email(*, subject: str, text: str, html: str, to: list[str]) -> None:
    """Sends a message rendered by its cause; a mail server that does not answer is tried
    again with backoff, away from the request that caused it."""
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()

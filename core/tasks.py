from celery import shared_task
from django.utils import timezone

from core.models import Heartbeat


@shared_task(name="core.tasks.heartbeat")
def heartbeat(name: str = "worker") -> None:
    """Scheduled by beat every 30 s; /healthz and /metrics report its age."""
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})

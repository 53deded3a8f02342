"""A responder's own saved queue views."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from core.text import LineField
from tenancy.models import TenantModel


class SavedView(TenantModel):
    """A responder's own named set of queue filters (the queue's normalized query string)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = LineField(max_length=80)
    query = models.CharField(
        max_length=2000, blank=True, help_text="The queue's filters, as a query string."
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "owner", "name"], name="saved_view_owner_name"
            )
        ]

    def __str__(self):
        return self.name

"""Files attached to an incident, and how their stored names are made."""

from __future__ import annotations

import posixpath
import uuid

from django.core.exceptions import SuspiciousFileOperation
from django.db import models
from django.utils.text import get_valid_filename
from django.utils.timezone import now

from core.text import LineField
from incidents.models.common import person_field
from incidents.models.incident import Incident
from tenancy.models import TenantModel

# File systems limit a name in bytes (255 on most), and a character of a name in another
# script takes two to four of them: stored names are cut by bytes, well below the limit.
STORED_NAME_MAX_BYTES = 100


def cut_to_bytes(name: str, limit: int) -> str:
    """``name`` in at most ``limit`` bytes of UTF-8, never splitting a character, keeping a
    short extension (``.png``) so the stored file still says what it is."""
    if len(name.encode()) <= limit:
        return name
    stem, extension = posixpath.splitext(name)
    if len(extension.encode()) > limit // 4:
        stem, extension = name, ""
    budget = limit - len(extension.encode())
    return stem.encode()[:budget].decode("utf-8", "ignore") + extension


def attachment_upload_to(instance, filename: str) -> str:
    """attachments/<org id>/<incident id>/<uuid4>/<sanitized original name>."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        name = cut_to_bytes(get_valid_filename(name), STORED_NAME_MAX_BYTES)
    except SuspiciousFileOperation:  # names like "." or ".."
        name = ""
    return (
        f"attachments/{instance.organization_id}/{instance.incident_id}/"
        f"{uuid.uuid4().hex}/{name or 'file'}"
    )


class Attachment(TenantModel):
    """A file attached to an incident; served only through permission-checked views."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)
    original_name = LineField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = person_field()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["organization", "incident", "created_at"], name="attachment_incident"
            ),
        ]

    def __str__(self):
        return self.original_name

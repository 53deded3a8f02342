"""Attachments: files stored on an incident through the storage API, within its quota,
noted on its timeline."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Sum

from core.errors import Forbidden
from incidents import attachments as attachment_rules
from incidents import rules
from incidents.models import Attachment, Incident, TimelineEntry
from incidents.services.base import check_same_organization, lock_incident, timeline_entry_add
from tenancy import rls


def _check_attacher(actor, incident: Incident) -> None:
    refusal = rules.attach_refusal(actor, incident)
    if refusal is not None:
        raise Forbidden(refusal, code="forbidden")


@rls.in_tenant
def attachment_quota_check(*, organization, incident: Incident, sizes: list[int]) -> None:
    """DomainError on "file" when files of these sizes would take the incident past its
    quota (a number of files and of bytes)."""
    stored = (
        Attachment.objects.for_org(organization)
        .filter(incident=incident)
        .aggregate(count=Count("id"), total=Sum("size"))
    )
    attachment_rules.check_quota(count=stored["count"], total=stored["total"] or 0, sizes=sizes)


@rls.in_tenant
def attachment_add(*, organization, actor, incident: Incident, upload) -> Attachment:
    """Checks the upload's size and type and the incident's quota, stores it through the
    storage API and notes it on the timeline. A failure after storing removes the stored
    file again. The incident stays locked meanwhile, so concurrent uploads cannot together
    pass the quota."""
    check_same_organization(organization, incident=incident)
    _check_attacher(actor, incident)
    name, content_type = attachment_rules.check_upload(upload)
    incident = lock_incident(organization, incident)
    attachment_quota_check(organization=organization, incident=incident, sizes=[upload.size])
    attachment = Attachment(
        organization=organization,
        incident=incident,
        original_name=name,
        content_type=content_type,
        size=upload.size,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    upload.seek(0)
    attachment.file.save(name, upload, save=False)
    try:
        with transaction.atomic():
            attachment.save()
            timeline_entry_add(
                incident,
                actor,
                TimelineEntry.Kind.ATTACHMENT_ADDED,
                data={"name": name},
                is_public=True,
            )
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return attachment


@rls.in_tenant
def attachment_remove(*, organization, actor, attachment: Attachment) -> None:
    """Responders and up. The file leaves storage once the deletion is committed."""
    check_same_organization(organization, attachment=attachment)
    if not rules.may_remove_attachment(actor, attachment):
        raise Forbidden("You cannot remove attachments.", code="forbidden")
    incident = attachment.incident
    storage, stored = attachment.file.storage, attachment.file.name
    name = attachment.original_name
    attachment.delete()
    timeline_entry_add(
        incident,
        actor,
        TimelineEntry.Kind.ATTACHMENT_REMOVED,
        data={"name": name},
        is_public=True,
    )
    transaction.on_commit(lambda: storage.delete(stored))


def attachments_add_all(*, organization, actor, incident: Incident, uploads) -> list[Attachment]:
    """Stores every upload, or none of them: a failure removes those already stored. The
    incident's quota is checked for all of them first."""
    attachment_quota_check(
        organization=organization, incident=incident, sizes=[upload.size for upload in uploads]
    )
    stored = []
    try:
        for upload in uploads:
            stored.append(
                attachment_add(
                    organization=organization, actor=actor, incident=incident, upload=upload
                )
            )
    except BaseException:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    return stored

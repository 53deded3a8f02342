"""Post-incident reviews: a blameless review of a resolved or closed incident and the
action items it leads to. Every row carries its organization."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from core.text import LineField
from incidents.models import Incident, person_field
from tenancy.models import TenantModel


class PostIncidentReview(TenantModel):
    """A blameless review of a resolved or closed incident (one per incident)."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    status = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    root_causes = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    lessons = models.TextField(blank=True, help_text="What went well, what did not, luck.")
    timeline_summary = models.TextField(
        blank=True, help_text="Pre-filled from the incident's timeline (UTC)."
    )
    owner = person_field()
    created_by = person_field(editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "post-incident review"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="review_org_recent"),
            models.Index(fields=["organization", "status"], name="review_org_status"),
        ]

    def __str__(self):
        return f"Review of INC-{self.incident.number}" if self.incident_id else "Review"


class ActionItem(TenantModel):
    """A follow-up from a post-incident review, optionally tracked elsewhere (Jira)."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="action_items"
    )
    title = LineField(max_length=200)
    owner = person_field()
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    external_url = models.URLField(blank=True, help_text="E.g. the Jira issue tracking it.")
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["organization", "review", "created_at"], name="action_item_review"
            ),
        ]

    def __str__(self):
        return self.title

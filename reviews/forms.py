"""Portal forms for a review and its action items."""

from __future__ import annotations

from django import forms

from core.forms import PortalForm, person_label
from reviews import services
from reviews.models import ActionItem, PostIncidentReview

TEXT_MAX = 50_000
REVIEW_STATUS_CHOICES = [
    (value, label)
    for value, label in PostIncidentReview.State.choices
    if value != PostIncidentReview.State.PUBLISHED
]


def _owner_field(members) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Owner",
        required=False,
        choices=[("", "—"), *((str(user.pk), person_label(user)) for user in members)],
    )


class ReviewForm(PortalForm):
    summary = forms.CharField(required=False, max_length=TEXT_MAX, widget=forms.Textarea)
    impact = forms.CharField(required=False, max_length=TEXT_MAX, widget=forms.Textarea)
    root_causes = forms.CharField(
        label="Root causes", required=False, max_length=TEXT_MAX, widget=forms.Textarea
    )
    contributing_factors = forms.CharField(
        label="Contributing factors", required=False, max_length=TEXT_MAX, widget=forms.Textarea
    )
    lessons = forms.CharField(
        label="Lessons learned", required=False, max_length=TEXT_MAX, widget=forms.Textarea
    )
    timeline_summary = forms.CharField(
        label="Timeline (UTC)", required=False, max_length=TEXT_MAX, widget=forms.Textarea
    )

    def __init__(self, *args, review, members, **kwargs):
        initial = {
            **{field: getattr(review, field) for field in services.REVIEW_FIELDS},
            "owner": str(review.owner_id or ""),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.members = {str(user.pk): user for user in members}
        self.fields["owner"] = _owner_field(members)
        if review.status != PostIncidentReview.State.PUBLISHED:
            self.fields["status"] = forms.ChoiceField(choices=REVIEW_STATUS_CHOICES)

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data["owner"] = self.members.get(data["owner"])
        return data


class ActionItemForm(PortalForm):
    title = forms.CharField(max_length=200)
    due_date = forms.DateField(
        label="Due", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(choices=ActionItem.State.choices, initial=ActionItem.State.OPEN)
    external_url = forms.URLField(
        label="Tracking link", required=False, max_length=200, assume_scheme="https"
    )

    def __init__(self, *args, members, item=None, tracking_only=False, **kwargs):
        if item is not None:
            kwargs["initial"] = {
                "title": item.title,
                "due_date": item.due_date,
                "status": item.status,
                "external_url": item.external_url,
                "owner": str(item.owner_id or ""),
            }
            kwargs["prefix"] = f"item-{item.pk}"
        super().__init__(*args, **kwargs)
        self.members = {str(user.pk): user for user in members}
        self.fields["owner"] = _owner_field(members)
        if tracking_only:  # a published review's item: its title stays as published
            for name in set(self.fields) - set(services.ACTION_ITEM_TRACKING_FIELDS):
                del self.fields[name]

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["owner"] = self.members.get(data["owner"])
        return data

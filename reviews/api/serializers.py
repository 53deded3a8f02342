"""What the review API reads and writes. Usernames resolve only inside the organization."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from rest_framework import serializers

from incidents.api.fields import OrganizationSlugField, text_field, user_field
from reviews.models import ActionItem, PostIncidentReview

User = get_user_model()


def _narrow_users(serializer) -> None:
    organization = serializer.context.get("organization")
    if organization is None:
        return  # schema generation
    for field in serializer.fields.values():
        if isinstance(field, OrganizationSlugField):
            field.queryset = User.objects.filter(memberships__organization=organization)


class ReviewSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident.number", read_only=True)
    incident_reference = serializers.CharField(source="incident.reference", read_only=True)
    incident_title = serializers.CharField(source="incident.title", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PostIncidentReview
        fields = [
            "id",
            "incident",
            "incident_reference",
            "incident_title",
            "status",
            "summary",
            "impact",
            "root_causes",
            "contributing_factors",
            "lessons",
            "timeline_summary",
            "owner",
            "created_by",
            "created_at",
            "updated_at",
            "published_at",
        ]
        read_only_fields = fields


class ReviewCreateSerializer(serializers.Serializer):
    incident = serializers.IntegerField(
        min_value=1, max_value=999_999_999, help_text="The incident's number (resolved/closed)."
    )


class ReviewUpdateSerializer(serializers.ModelSerializer):
    summary = text_field()
    impact = text_field()
    root_causes = text_field()
    contributing_factors = text_field()
    lessons = text_field()
    timeline_summary = text_field()
    owner = user_field(help_text="Username of a member of the organization.")
    status = serializers.ChoiceField(
        choices=[
            (value, label)
            for value, label in PostIncidentReview.State.choices
            if value != PostIncidentReview.State.PUBLISHED
        ],
        required=False,
        help_text="Draft or in review; publish with POST …/publish/.",
    )

    class Meta:
        model = PostIncidentReview
        fields = [
            "summary",
            "impact",
            "root_causes",
            "contributing_factors",
            "lessons",
            "timeline_summary",
            "owner",
            "status",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _narrow_users(self)


class ActionItemSerializer(serializers.ModelSerializer):
    title = serializers.CharField(max_length=200)
    owner = user_field(help_text="Username of a member of the organization.")
    external_url = serializers.URLField(
        max_length=200, required=False, allow_blank=True, help_text="E.g. a Jira issue."
    )

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "status", "external_url", "created_at"]
        read_only_fields = ["id", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _narrow_users(self)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["owner"] = instance.owner.get_username() if instance.owner_id else None
        return data


class ReviewFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PostIncidentReview.State.choices)

    class Meta:
        model = PostIncidentReview
        fields = ["status"]

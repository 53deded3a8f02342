"""Parse and render incidents and their timeline (fields: :mod:`incidents.api.fields`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import extensions
from incidents import timeline
from incidents.api.fields import (
    BODY_MAX_LENGTH,
    labels_field,
    narrow_to_organization,
    slug_field,
    text_field,
    user_field,
)
from incidents.models import (
    Category,
    Incident,
    Priority,
    Service,
    TimelineEntry,
)
from incidents.rules import satisfaction_visible
from incidents.services import UPDATABLE
from incidents.states import Status, allowed_targets
from tenancy.models import Team


class IncidentSlaSerializer(serializers.Serializer):
    """The incident's SLA clocks (read-only; computed from the organization's targets)."""

    response_due_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Acknowledge by then."
    )
    resolve_due_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Resolve by then; moves later by the time spent on hold.",
    )
    response_breached = serializers.BooleanField(read_only=True)
    resolve_breached = serializers.BooleanField(read_only=True)
    paused = serializers.SerializerMethodField(help_text="On hold: the resolve clock is stopped.")

    def get_paused(self, obj) -> bool:
        return obj.sla_paused_at is not None


class SatisfactionSerializer(serializers.Serializer):
    """What the reporter said when confirming the resolution."""

    score = serializers.IntegerField(
        read_only=True, allow_null=True, min_value=1, max_value=5, help_text="1–5, or none."
    )
    comment = serializers.CharField(read_only=True)


class IncidentSerializer(serializers.ModelSerializer):
    """An incident as the API shows it (read-only).

    The reporter's satisfaction is shown to responders and up and to the reporter; for
    anyone else ``satisfaction`` is null and ``satisfaction_score``/``satisfaction_comment``
    are empty."""

    reference = serializers.CharField(read_only=True, help_text="INC-<number>.")
    allowed_transitions = serializers.SerializerMethodField(
        help_text="Statuses a PATCH of `status` may move the incident to."
    )
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    commander = serializers.SlugRelatedField(slug_field="username", read_only=True)
    comms_lead = serializers.SlugRelatedField(slug_field="username", read_only=True)
    error_codes = serializers.ListField(child=serializers.CharField(), read_only=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    sla = IncidentSlaSerializer(source="*", read_only=True)
    satisfaction = serializers.SerializerMethodField(
        help_text="The reporter's 1–5 score and comment when confirming the resolution; null "
        "when none was given or when the caller may not read it (only responders and up, "
        "and the reporter, may)."
    )

    class Meta:
        model = Incident
        fields = [
            "number",
            "reference",
            "title",
            "description",
            "status",
            "allowed_transitions",
            "category",
            "impact",
            "urgency",
            "priority",
            "priority_override_reason",
            "severity",
            "service",
            "team",
            "assignee",
            "reporter",
            "commander",
            "comms_lead",
            "error_codes",
            "tags",
            "occurred_at",
            "detected_at",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
            "root_cause",
            "resolution",
            "source",
            "dedup_key",
            "sla",
            "satisfaction_score",
            "satisfaction_comment",
            "satisfaction",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self):
        """The incident's own fields, then what other apps keep with it (on-call's
        ``escalation``)."""
        fields = super().get_fields()
        fields.update(extensions.api_fields(Incident))
        return fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(Status.choices)))
    def get_allowed_transitions(self, obj) -> list[str]:
        return list(allowed_targets(obj.status))

    def _sees_satisfaction(self, obj) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return user is not None and satisfaction_visible(user, obj)

    @extend_schema_field(SatisfactionSerializer(allow_null=True))
    def get_satisfaction(self, obj) -> dict | None:
        if obj.satisfaction_score is None and not obj.satisfaction_comment:
            return None
        if not self._sees_satisfaction(obj):
            return None
        return {"score": obj.satisfaction_score, "comment": obj.satisfaction_comment}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data["satisfaction"] is None:
            data["satisfaction_score"], data["satisfaction_comment"] = None, ""
        return data


class IncidentWriteSerializer(serializers.ModelSerializer):
    """Fields a client may set; querysets narrowed to the organization."""

    description = text_field(help_text="Markdown.")
    category = slug_field(Category, help_text="Category slug (active categories only).")
    service = slug_field(Service, help_text="Service slug.")
    team = slug_field(Team, help_text="Team slug; defaults to the service's team.")
    error_codes = labels_field("Error codes.")
    tags = labels_field("Tags.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        narrow_to_organization(self)


class IncidentCreateSerializer(IncidentWriteSerializer):
    source = serializers.ChoiceField(
        choices=[
            (value, label)
            for value, label in Incident.Source.choices
            if value != Incident.Source.ALERT
        ],
        default=Incident.Source.API,
        help_text="Where the report came from; alerts arrive through the ingestion endpoints.",
    )
    detected_at = serializers.DateTimeField(required=False, allow_null=True)

    class Meta:
        model = Incident
        fields = [
            "title",
            "description",
            "category",
            "impact",
            "urgency",
            "severity",
            "service",
            "team",
            "occurred_at",
            "detected_at",
            "error_codes",
            "tags",
            "source",
            "dedup_key",
        ]


class IncidentUpdateSerializer(IncidentWriteSerializer):
    """A PATCH: fields, a status change (with ``note``) and a priority override, any mix."""

    assignee = user_field(help_text="Username of a member of the organization.")
    commander = user_field(help_text="Username of a member of the organization.")
    comms_lead = user_field(help_text="Username of a member of the organization.")
    root_cause = text_field()
    resolution = text_field(help_text="Required to resolve, unless given before.")
    status = serializers.ChoiceField(
        choices=Status.choices,
        required=False,
        help_text="Moves the incident along the lifecycle; a forbidden move answers 409 "
        "with the allowed targets.",
    )
    note = serializers.CharField(
        max_length=BODY_MAX_LENGTH,
        allow_blank=True,
        required=False,
        help_text="Shown on the timeline with the status change.",
    )
    priority = serializers.ChoiceField(
        choices=Priority.choices,
        required=False,
        help_text="Overrides the impact x urgency matrix; needs `priority_reason`.",
    )
    priority_reason = serializers.CharField(max_length=500, required=False, allow_blank=True)

    class Meta:
        model = Incident
        # What incident_update takes, plus the transition and the priority override.
        fields = [*UPDATABLE, "status", "note", "priority", "priority_reason"]

    def validate(self, attrs):
        errors = {}
        if "note" in attrs and "status" not in attrs:
            errors["note"] = ["Only with a status change."]
        if "priority" in attrs and not attrs.get("priority_reason", "").strip():
            errors["priority_reason"] = ["Give a reason for overriding the priority."]
        if "priority_reason" in attrs and "priority" not in attrs:
            errors["priority"] = ["Required with priority_reason."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class TimelineEntryListSerializer(serializers.ListSerializer):
    """Describes a page of entries at once: the people they name are read in one query."""

    def to_representation(self, data):
        entries = list(data.all() if hasattr(data, "all") else data)
        organization = self.context.get("organization")
        if organization is not None:
            timeline.describe_all(organization, entries)
        return super().to_representation(entries)


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    public = serializers.BooleanField(source="is_public", read_only=True)
    summary = serializers.SerializerMethodField(
        help_text="What happened, in words, after the actor's name (e.g. “assigned Carol "
        "Reyes”, “missed the response target”); `data` keeps the stored values."
    )

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "kind",
            "actor",
            "actor_label",
            "public",
            "summary",
            "body",
            "data",
            "created_at",
        ]
        read_only_fields = fields
        list_serializer_class = TimelineEntryListSerializer

    def get_summary(self, obj) -> str:
        summary = getattr(obj, "summary", None)
        return summary if summary is not None else timeline.describe(obj)


class CommentSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=BODY_MAX_LENGTH)
    public = serializers.BooleanField(
        source="is_public",
        default=False,
        help_text="Shown to the reporter and stakeholders. Reporters' comments always are.",
    )
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "body", "public", "actor", "actor_label", "created_at"]
        read_only_fields = ["id", "actor", "actor_label", "created_at"]


class StatusUpdateSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=BODY_MAX_LENGTH)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "body", "actor", "actor_label", "created_at"]
        read_only_fields = ["id", "actor", "actor_label", "created_at"]

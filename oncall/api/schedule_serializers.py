"""Serializers of schedules, their layers, overrides, swaps and computed shifts."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from rest_framework import serializers

from incidents.api.fields import (
    USERNAME_RE,
    JSONField,
    OrganizationSlugField,
    narrow_to_organization,
    slug_field,
    text_field,
    user_field,
)
from oncall.bounds import validate_in_range
from oncall.models import Layer, Override, Schedule, Swap
from oncall.restrictions import validate_restrictions
from oncall.services.schedules import MAX_LAYERS, MAX_PARTICIPANTS
from tenancy.models import Team


class UsernamesField(serializers.ListField):
    """A layer's rotation as usernames, in order (written as usernames, resolved to members
    by the service)."""

    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=150),
            max_length=MAX_PARTICIPANTS,
            **kwargs,
        )

    def get_attribute(self, layer):
        return [participant.user.username for participant in layer.participants.all()]


class TimeZoneField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)

    def to_representation(self, value):
        return str(value)

    def to_internal_value(self, data):
        name = super().to_internal_value(data)
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError("Unknown time zone, e.g. Europe/Berlin.") from None
        return name


class LayerSerializer(serializers.ModelSerializer):
    participants = UsernamesField(
        help_text="Usernames of members, in rotation order: shift k is participants[k mod n]."
    )
    restrictions = JSONField(
        required=False,
        validators=[validate_restrictions],
        help_text='When the layer has someone, e.g. [{"days": ["mon", "tue"], "start": '
        '"09:00", "end": "17:00"}]; an end not after the start runs past midnight.',
    )

    class Meta:
        model = Layer
        fields = [
            "name",
            "position",
            "rotation_start",
            "shift_length",
            "shift_unit",
            "handoff_time",
            "participants",
            "restrictions",
        ]
        extra_kwargs = {"position": {"required": False}}


class OverrideSerializer(serializers.ModelSerializer):
    user = OrganizationSlugField(
        slug_field="username",
        queryset=get_user_model().objects.none(),
        max_length=150,
        pattern=USERNAME_RE,
        help_text="Username of the member who covers.",
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Override
        fields = ["id", "user", "start", "end", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        narrow_to_organization(self)


class ScheduleSerializer(serializers.ModelSerializer):
    description = text_field()
    time_zone = TimeZoneField(required=False, help_text="Handoffs and restrictions are here.")
    team = slug_field(Team, help_text="Slug of the team that owns the schedule.")
    layers = LayerSerializer(
        many=True,
        required=False,
        max_length=MAX_LAYERS,
        help_text="All the layers; on PATCH, given layers replace the existing ones.",
    )
    overrides = OverrideSerializer(
        many=True, read_only=True, help_text="Overrides that have not ended yet."
    )

    class Meta:
        model = Schedule
        fields = [
            "id",
            "name",
            "description",
            "time_zone",
            "team",
            "layers",
            "overrides",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        validators: list = []  # the name's uniqueness is the service's (a 409 with a field)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        narrow_to_organization(self)


class OnCallSerializer(serializers.Serializer):
    users = serializers.ListField(child=serializers.CharField(), help_text="Usernames.")
    until = serializers.DateTimeField(
        allow_null=True, help_text="When this answer changes; null: not within 90 days."
    )


class AtSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, validators=[validate_in_range], help_text="Default: now."
    )


class RangeSerializer(serializers.Serializer):
    start = serializers.DateTimeField(
        required=False, validators=[validate_in_range], help_text="Default: now."
    )
    end = serializers.DateTimeField(
        required=False, validators=[validate_in_range], help_text="Default: a week after start."
    )


class SegmentSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    users = serializers.ListField(
        child=serializers.CharField(), help_text="Usernames; empty: nobody is on call."
    )

    def to_representation(self, segment):
        return {
            "start": serializers.DateTimeField().to_representation(segment.start),
            "end": serializers.DateTimeField().to_representation(segment.end),
            "users": [user.username for user in segment.users],
        }


class SwapSerializer(serializers.ModelSerializer):
    offered_by = user_field(help_text="Whose shift (admins only; default: you).")
    taken_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    override = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Swap
        fields = [
            "id",
            "offered_by",
            "start",
            "end",
            "note",
            "status",
            "taken_by",
            "override",
            "created_at",
            "decided_at",
        ]
        read_only_fields = ["id", "status", "created_at", "decided_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        narrow_to_organization(self)


class SwapAcceptSerializer(serializers.Serializer):
    taken_by = user_field(help_text="Who takes the shift (admins only; default: you).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        narrow_to_organization(self)


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField(help_text="Events the schedule had already.")
    errors = serializers.ListField(child=serializers.DictField())

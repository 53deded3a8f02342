from collections.abc import Mapping

from django.contrib.auth import get_user_model
from rest_framework import serializers

from core import extensions
from tenancy.models import (
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
)

User = get_user_model()


class OrganizationSerializer(serializers.ModelSerializer):
    timezone = serializers.CharField(read_only=True)
    role = serializers.SerializerMethodField(help_text="Your role in this organization.")

    class Meta:
        model = Organization
        fields = ["slug", "name", "timezone", "created_at", "role"]
        read_only_fields = fields

    def get_role(self, obj) -> str:
        return self.context["role"]


class TeamMemberSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=User.objects.none()
    )
    name = serializers.CharField(source="user.get_full_name", read_only=True)

    class Meta:
        model = TeamMembership
        fields = ["username", "name", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            # Only the organization's own members can be named; anyone else is "not found".
            self.fields["username"].queryset = User.objects.filter(
                memberships__organization=organization
            )


class TeamSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=50)
    members = TeamMemberSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "members", "created_at"]
        read_only_fields = ["created_at"]

    def get_fields(self):
        """The team's own fields, then the settings other apps keep with it."""
        fields = super().get_fields()
        created_at = fields.pop("created_at")
        fields.update(extensions.api_fields(Team))
        fields["created_at"] = created_at
        return fields


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.get_full_name", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    teams = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["username", "email", "name", "role", "teams", "created_at"]
        read_only_fields = fields

    def get_teams(self, obj) -> list[str]:
        return [tm.team.slug for tm in obj.user.team_memberships.all()]


class InvitationCreateSerializer(serializers.Serializer):
    """Whom to invite. The invitee chooses their own username and password."""

    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.REPORTER)
    username = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        default="",
        help_text="A suggested username for a new account; the invitee may choose another.",
    )

    PASSWORD_REFUSED = (
        "Members set their own password: they receive an invitation by e-mail and choose "
        "their credentials when they accept it. Send no password."
    )

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and "password" in data:
            raise serializers.ValidationError({"password": [self.PASSWORD_REFUSED]})
        return super().to_internal_value(data)


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Invitation.Status.choices, read_only=True)
    invited_by = serializers.CharField(source="invited_by.username", default=None, read_only=True)
    accepted_by = serializers.CharField(source="accepted_by.username", default=None, read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "username",
            "status",
            "invited_by",
            "created_at",
            "sent_at",
            "send_count",
            "expires_at",
            "accepted_at",
            "accepted_by",
            "revoked_at",
        ]
        read_only_fields = fields


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    actor_username = serializers.CharField(source="actor.username", default=None)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_username",
            "ip_address",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "before",
            "after",
        ]
        read_only_fields = fields

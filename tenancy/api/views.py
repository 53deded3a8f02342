from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from core import extensions
from core.api.filters import BoundedIsoDateTimeFilter
from tenancy import selectors, services
from tenancy.api.base import OrganizationScopedMixin
from tenancy.api.serializers import (
    AuditEventSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    OrganizationSerializer,
    TeamMemberSerializer,
    TeamSerializer,
)
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


class OrganizationView(OrganizationScopedMixin, generics.RetrieveAPIView):
    """The organization named in the URL and your role in it."""

    serializer_class = OrganizationSerializer
    perm_model = Organization

    def get_object(self):
        return self.organization

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "role": self.role}


class TeamFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Matches name or slug.")
    member = filters.CharFilter(field_name="memberships__user__username", help_text="Username.")

    class Meta:
        model = Team
        fields = ["q", "member"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class TeamViewSet(OrganizationScopedMixin, viewsets.ModelViewSet):
    serializer_class = TeamSerializer
    lookup_field = "slug"
    filterset_class = TeamFilter
    cursor_ordering = ("slug",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Team.objects.none()
        members = TeamMembership.objects.for_org(self.organization).select_related("user")
        return (
            Team.objects.for_org(self.organization)
            .select_related(*extensions.related(Team))
            .prefetch_related(Prefetch("memberships", queryset=members.order_by("user__username")))
            .distinct()
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}

    def perform_create(self, serializer):
        serializer.instance = services.team_create(
            organization=self.organization, actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.team_update(
            organization=self.organization,
            actor=self.request.user,
            team=serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.team_delete(organization=self.organization, actor=self.request.user, team=instance)


class TeamMemberViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of one team. Adding someone already in the team updates their team role."""

    serializer_class = TeamMemberSerializer
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = r"[\w.@+-]+"
    cursor_ordering = ("id",)
    perm_model = TeamMembership

    team = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.team = get_object_or_404(Team.objects.for_org(self.organization), slug=kwargs["team"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TeamMembership.objects.none()
        return (
            TeamMembership.objects.for_org(self.organization)
            .filter(team=self.team)
            .select_related("user", "team")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}

    def perform_create(self, serializer):
        serializer.instance = services.team_member_add(
            organization=self.organization,
            actor=self.request.user,
            team=self.team,
            user=serializer.validated_data["user"],
            role=serializer.validated_data.get("role", TeamMembership.TeamRole.MEMBER),
        )

    def perform_destroy(self, instance):
        services.team_member_remove(
            organization=self.organization, actor=self.request.user, team_membership=instance
        )


class MemberFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Matches username, name or e-mail.")
    role = filters.ChoiceFilter(choices=Role.choices)
    team = filters.CharFilter(method="in_team", help_text="Team slug.")

    class Meta:
        model = Membership
        fields = ["q", "role", "team"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(user__username__icontains=value)
            | Q(user__first_name__icontains=value)
            | Q(user__last_name__icontains=value)
            | Q(user__email__icontains=value)
        )

    def in_team(self, queryset, name, value):
        return queryset.filter(
            user__team_memberships__team__slug=value,
            user__team_memberships__organization=self.request.organization,
        )


def _invite(view, request, *, status_code):
    """Both ways to invite (``members/`` and ``invitations/``) parse and answer alike."""
    serializer = InvitationCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    invitation = services.invitation_create(
        organization=view.organization, actor=request.user, **serializer.validated_data
    )
    location = reverse(
        "invitation-detail",
        kwargs={"org": view.organization.slug, "invitation": invitation.pk},
        request=request,
    )
    return Response(
        InvitationSerializer(invitation).data, status=status_code, headers={"Location": location}
    )


class MemberViewSet(OrganizationScopedMixin, viewsets.ModelViewSet):
    """People in the organization and their roles (owners, admins and responders).

    ``POST`` invites: the person receives an e-mail with a link where they choose their
    own username and password, or accept with the account they have; they become a member
    when they accept (202 and the invitation, see ``invitations/``). Nobody sets another
    person's password here. Only owners can make, change or remove owners, and an
    organization always keeps one owner.
    """

    serializer_class = MemberSerializer
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = r"[\w.@+-]+"
    filterset_class = MemberFilter
    cursor_ordering = ("id",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_perms = {"create": "tenancy.add_invitation"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        teams = TeamMembership.objects.for_org(self.organization).select_related("team")
        return (
            Membership.objects.for_org(self.organization)
            .select_related("user")
            .prefetch_related(Prefetch("user__team_memberships", queryset=teams))
        )

    def get_serializer_class(self):
        if self.action == "partial_update":
            return MemberRoleSerializer
        if self.action == "create":
            return InvitationCreateSerializer
        return MemberSerializer

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={202: OpenApiResponse(InvitationSerializer, "The invitation, e-mailed.")},
    )
    def create(self, request, *args, **kwargs):
        return _invite(self, request, status_code=status.HTTP_202_ACCEPTED)

    @extend_schema(request=MemberRoleSerializer, responses=MemberSerializer)
    def partial_update(self, request, *args, **kwargs):
        membership = self.get_object()
        serializer = MemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.membership_change_role(
            organization=self.organization,
            actor=request.user,
            membership=membership,
            role=serializer.validated_data["role"],
        )
        return Response(MemberSerializer(self.get_queryset().get(pk=membership.pk)).data)

    def perform_destroy(self, instance):
        services.membership_remove(
            organization=self.organization, actor=self.request.user, membership=instance
        )


class InvitationFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Invitation.Status.choices, method="by_status")
    email = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Invitation
        fields = ["status", "email"]

    def by_status(self, queryset, name, value):
        return queryset.with_status(value)


class InvitationViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Invitations to join the organization (owners and admins), newest first.

    ``POST`` e-mails a link to ``email``; ``DELETE`` revokes it (the link stops working,
    the invitation stays listed); ``resend/`` mails a new link with a new expiry (the old
    link stops working). The link itself is never shown here: only the invitee gets it.
    """

    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter
    lookup_url_kwarg = "invitation"
    lookup_value_regex = r"[0-9]+"
    action_perms = {"resend": "tenancy.change_invitation"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Invitation.objects.none()
        return selectors.invitation_list(organization=self.organization)

    def get_serializer_class(self):
        if self.action == "create":
            return InvitationCreateSerializer
        return InvitationSerializer

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def create(self, request, *args, **kwargs):
        return _invite(self, request, status_code=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.invitation_revoke(
            organization=self.organization, actor=request.user, invitation=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request, *args, **kwargs):
        invitation = services.invitation_resend(
            organization=self.organization, actor=request.user, invitation=self.get_object()
        )
        return Response(InvitationSerializer(invitation).data)


class AuditEventFilter(filters.FilterSet):
    action = filters.CharFilter(help_text="Exact action, e.g. member.role_changed.")
    actor = filters.CharFilter(field_name="actor_label", lookup_expr="icontains")
    created_after = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "created_after", "created_before"]


class AuditEventViewSet(OrganizationScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The organization's append-only audit log (owners), newest first; for SIEM export."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    cursor_ordering = ("-id",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return AuditEvent.objects.for_org(self.organization).select_related("actor")

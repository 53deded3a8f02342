"""Escalations and pages in /api/v1/orgs/<org>/.

- ``incidents/<number>/escalate/`` (POST): responders page the running escalation's next
  step now.
- ``incidents/<number>/page/`` (POST ``{"user"|"team"|"schedule": id}``): responders page
  a person, a team's members or a schedule's on-call people.
- ``incidents/<number>/pages/``: the incident's pages, newest first.
- ``pages/`` (``?status=open``): the caller's own pages; ``pages/<id>/acknowledge/``
  (POST): the recipient acknowledges their page, and with it the incident.

Reporters, who see no pages, get 404 on the incident's routes, like another
organization's incident.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incidents.api.views import NUMBER, IncidentChildMixin
from oncall.models import Escalation, Page, Schedule
from oncall.services import escalations, pages
from tenancy.api.base import OrganizationScopedMixin
from tenancy.models import Membership, Team

User = get_user_model()
ID_MAX = 2**63 - 1
ID_DIGITS = 18


class PageSerializer(serializers.ModelSerializer):
    recipient = serializers.CharField(source="recipient.username", read_only=True)
    incident = serializers.IntegerField(source="incident.number", read_only=True)
    sent_by = serializers.CharField(source="sent_by.username", read_only=True, default=None)

    class Meta:
        model = Page
        fields = [
            "id",
            "incident",
            "recipient",
            "status",
            "step",
            "repeat",
            "reason",
            "sent_by",
            "created_at",
            "acknowledged_at",
        ]
        read_only_fields = fields


class EscalationSerializer(serializers.ModelSerializer):
    policy = serializers.CharField(source="snapshot.name", read_only=True)

    class Meta:
        model = Escalation
        fields = ["id", "policy", "state", "step", "repeat", "next_escalation_at", "started_at"]
        read_only_fields = fields


def current_escalation(incident) -> Escalation | None:
    """The incident's running escalation, else its last one (from the prefetch of
    ``escalations``, newest first, when the list was read with it)."""
    cached = getattr(incident, "_prefetched_objects_cache", {}).get("escalations")
    if cached is None:
        cached = Escalation.objects.for_org(incident.organization_id).filter(incident=incident)
        cached = list(cached.order_by("-started_at", "-id"))
    active = [e for e in cached if e.state == Escalation.State.ACTIVE]
    return (active or cached or [None])[0]


class IncidentEscalationField(EscalationSerializer):
    """An incident's ``escalation`` (``step``: the next step to page, 0 the first); null
    when none ran, or for a reader who may not see escalations (reporters)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def get_attribute(self, incident):
        request = self.context.get("request")
        organization = self.context.get("organization")
        if request is None or not request.user.has_perm("oncall.view_escalation", organization):
            return None
        return current_escalation(incident)


class PageRequestSerializer(serializers.Serializer):
    """Exactly one of the three, by id, in the organization."""

    user = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    team = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    schedule = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Name one user, team or schedule to page.")
        organization = self.context["organization"]
        [(kind, pk)] = attrs.items()
        if kind == "user":
            member = Membership.objects.for_org(organization).filter(user_id=pk).exists()
            found = User.objects.filter(pk=pk).first() if member else None
        elif kind == "team":
            found = Team.objects.for_org(organization).filter(pk=pk).first()
        else:
            found = Schedule.objects.for_org(organization).filter(pk=pk).first()
        if found is None:
            raise serializers.ValidationError({kind: ["Not found."]})
        return {kind: found}


class IncidentPagesMixin(IncidentChildMixin):
    perm_model = Page

    def check_permissions(self, request):
        # Reporters see no pages: the routes answer them as if they did not exist.
        if self.organization is not None and not request.user.has_perm(
            "oncall.view_page", self.organization
        ):
            raise Http404("Not found.")
        super().check_permissions(request)


@extend_schema(parameters=[NUMBER])
class IncidentPageViewSet(IncidentPagesMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The incident's pages, newest first."""

    serializer_class = PageSerializer
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Page.objects.none()
        return (
            Page.objects.for_org(self.organization)
            .filter(incident=self.incident)
            .select_related("recipient", "sent_by", "incident")
        )


@extend_schema(parameters=[NUMBER])
class IncidentPageCreateView(IncidentPagesMixin, viewsets.GenericViewSet):
    serializer_class = PageRequestSerializer
    action_perms = {"create": "oncall.add_page"}

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}

    @extend_schema(request=PageRequestSerializer, responses={201: PageSerializer(many=True)})
    def create(self, request, *args, **kwargs):
        """Pages a user, a team's members or a schedule's on-call people now."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        written = pages.page_someone(
            organization=self.organization,
            actor=request.user,
            incident=self.incident,
            **serializer.validated_data,
        )
        return Response(PageSerializer(written, many=True).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[NUMBER])
class IncidentEscalateView(IncidentPagesMixin, viewsets.GenericViewSet):
    serializer_class = EscalationSerializer
    action_perms = {"create": "oncall.change_escalation"}

    @extend_schema(request=None, responses={200: EscalationSerializer})
    def create(self, request, *args, **kwargs):
        """Pages the running escalation's next step now."""
        escalation = escalations.escalation_escalate_now(
            organization=self.organization, actor=request.user, incident=self.incident
        )
        return Response(EscalationSerializer(escalation).data)


class MyPageViewSet(OrganizationScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own pages, newest first (``?status=open`` for the ones waiting)."""

    serializer_class = PageSerializer
    perm_model = Page
    cursor_ordering = ("-created_at", "-id")
    action_perms = {"acknowledge": "oncall.view_page"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Page.objects.none()
        mine = (
            Page.objects.for_org(self.organization)
            .filter(recipient_id=self.request.user.pk)
            .select_related("recipient", "sent_by", "incident")
        )
        wanted = self.request.query_params.get("status")
        if wanted is not None:
            if wanted not in Page.Status.values:
                raise serializers.ValidationError(
                    {"status": [f"One of: {', '.join(Page.Status.values)}."]}
                )
            mine = mine.filter(status=wanted)
        return mine

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Page.Status.values, required=False)]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: PageSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, *args, **kwargs):
        """Acknowledges the caller's page, and with it the incident."""
        pk = kwargs["pk"]
        if not pk.isascii() or not pk.isdigit() or len(pk) > ID_DIGITS:
            raise Http404("No such page.")
        page = get_object_or_404(
            Page.objects.for_org(self.organization).filter(recipient_id=request.user.pk), pk=pk
        )
        page = pages.page_acknowledge(organization=self.organization, actor=request.user, page=page)
        page = self.get_queryset().get(pk=page.pk)
        return Response(PageSerializer(page).data)


router = SimpleRouter()
router.register(
    r"incidents/(?P<number>[^/.]+)/pages", IncidentPageViewSet, basename="incident-page"
)
router.register(
    r"incidents/(?P<number>[^/.]+)/page", IncidentPageCreateView, basename="incident-page-send"
)
router.register(
    r"incidents/(?P<number>[^/.]+)/escalate", IncidentEscalateView, basename="incident-escalate"
)
router.register(r"pages", MyPageViewSet, basename="page")
urlpatterns = router.urls

"""Incidents, their timeline, comments and status updates, the service catalog, categories.

Views parse with a serializer, call a service of :mod:`incidents.services` and render with
a serializer. Reads start from :mod:`incidents.selectors`, so a reporter reaches only the
incidents they reported, and anything else answers 404.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from core import extensions
from incidents import selectors, services
from incidents.api.idempotency import idempotent
from incidents.api.serializers import (
    CommentSerializer,
    IncidentCreateSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    StatusUpdateSerializer,
    TimelineEntrySerializer,
)
from incidents.filters import IncidentFilter
from incidents.models import Incident, TimelineEntry
from tenancy.api.base import OrganizationScopedMixin
from tenancy.backends import ApiKeyUser
from tenancy.models import Role

# Incident numbers are positive integers; anything else cannot name one.
NUMBER_MAX_DIGITS = 9
NUMBER = OpenApiParameter(
    "number", int, OpenApiParameter.PATH, description="The incident's number (INC-<number>)."
)


def _visible_incidents(view):
    return selectors.incidents_visible(
        organization=view.organization, user=view.request.user, role=view.role
    )


def _incident_or_404(queryset, number: str) -> Incident:
    if not number.isascii() or not number.isdigit() or len(number) > NUMBER_MAX_DIGITS:
        raise Http404("No such incident.")
    return get_object_or_404(queryset, number=int(number))


class IncidentViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents of the organization, newest first. Reporters see the ones they reported.

    ``PATCH`` changes fields, moves the status (``status`` with an optional ``note``; a
    forbidden move answers 409 with ``allowed``) and overrides the priority (``priority``
    with ``priority_reason``), in one transaction.
    """

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    lookup_field = "number"
    perm_model = Incident
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self):
        """With what other apps show beside the incident (:mod:`core.extensions`)."""
        if getattr(self, "swagger_fake_view", False):
            return Incident.objects.none()
        return _visible_incidents(self).prefetch_related(*extensions.prefetches(Incident))

    def get_object(self):
        incident = _incident_or_404(self.get_queryset(), self.kwargs["number"])
        self.check_object_permissions(self.request, incident)
        return incident

    def get_serializer_class(self):
        return {
            "create": IncidentCreateSerializer,
            "partial_update": IncidentUpdateSerializer,
        }.get(self.action, IncidentSerializer)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}

    @extend_schema(
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Makes a retry safe for 24 h (up to 255 characters).",
            )
        ],
        examples=[
            OpenApiExample(
                "Report an outage",
                request_only=True,
                value={
                    "title": "Checkout returns HTTP 502",
                    "description": "About a third of requests fail since 09:40 UTC.",
                    "service": "checkout-api",
                    "category": "software",
                    "impact": 1,
                    "urgency": 1,
                    "severity": "sev1",
                    "error_codes": ["HTTP-502"],
                    "tags": ["eu-west"],
                },
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        """Creates an incident. An ``Idempotency-Key`` header (up to 255 characters) makes
        a retry safe: the same key and body within 24 h replays the first response (with
        ``Idempotent-Replayed: true``); another body answers 422; 409 while the first is
        still in progress."""
        return idempotent(request, self.organization, lambda: self._create(request))

    def _create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_create(
            organization=self.organization,
            actor=request.user,
            reporter=None if isinstance(request.user, ApiKeyUser) else request.user,
            **serializer.validated_data,
        )
        return Response(
            IncidentSerializer(incident, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=IncidentUpdateSerializer,
        responses={
            200: IncidentSerializer,
            409: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="A forbidden status change; `allowed` lists the permitted targets.",
                examples=[
                    OpenApiExample(
                        "Closing an incident that is not resolved",
                        value={
                            "status": [
                                "An incident cannot go from new to closed. Allowed: "
                                "acknowledged, in_progress, on_hold, resolved, cancelled."
                            ],
                            "allowed": [
                                "acknowledged",
                                "in_progress",
                                "on_hold",
                                "resolved",
                                "cancelled",
                            ],
                        },
                    )
                ],
            ),
        },
        examples=[
            OpenApiExample(
                "Acknowledge", request_only=True, value={"status": "acknowledged", "note": "On it"}
            ),
            OpenApiExample(
                "Resolve",
                request_only=True,
                value={
                    "status": "resolved",
                    "resolution": "Rolled back release 2026.11.3.",
                    "root_cause": "A connection pool limit in the new release.",
                },
            ),
            OpenApiExample(
                "Assign and re-classify",
                request_only=True,
                value={"assignee": "carol", "impact": 2, "urgency": 1, "severity": "sev2"},
            ),
            OpenApiExample(
                "Override the priority",
                request_only=True,
                value={"priority": 1, "priority_reason": "Board demo in one hour."},
            ),
        ],
    )
    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        target = changes.pop("status", None)
        moves = {
            key: changes.pop(key)
            for key in ("note", "resolution", "root_cause")
            if target is not None and key in changes
        }
        priority = changes.pop("priority", None)
        reason = changes.pop("priority_reason", "")
        incident = services.incident_change(
            organization=self.organization,
            actor=request.user,
            incident=incident,
            changes=changes,
            priority=priority,
            priority_reason=reason,
            status=target,
            **moves,
        )
        incident = self.get_queryset().get(pk=incident.pk)
        return Response(IncidentSerializer(incident, context=self.get_serializer_context()).data)


class IncidentChildMixin(OrganizationScopedMixin):
    """Views under incidents/<number>/: the incident is one the principal may see."""

    cursor_ordering = ("created_at", "id")
    perm_model = TimelineEntry
    kind: str | None = None

    _incident = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if hasattr(self, request.method.lower()):
            self.incident  # noqa: B018 -- an incident the principal cannot see is 404 first

    @property
    def incident(self) -> Incident:
        if self._incident is None:
            self._incident = _incident_or_404(_visible_incidents(self), self.kwargs["number"])
        return self._incident

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TimelineEntry.objects.none()
        entries = selectors.timeline_visible(
            organization=self.organization, incident=self.incident, role=self.role
        )
        return entries.filter(kind=self.kind) if self.kind else entries


@extend_schema(parameters=[NUMBER])
class TimelineViewSet(IncidentChildMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The incident's timeline, oldest first; reporters and stakeholders see public entries."""

    serializer_class = TimelineEntrySerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}


@extend_schema(parameters=[NUMBER])
class CommentViewSet(
    IncidentChildMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Comments on the incident. Reporters' comments are always public."""

    serializer_class = CommentSerializer
    kind = TimelineEntry.Kind.COMMENT
    action_perms = {"create": "incidents.comment_incident"}

    def perform_create(self, serializer):
        serializer.instance = services.incident_comment(
            organization=self.organization,
            actor=self.request.user,
            incident=self.incident,
            body=serializer.validated_data["body"],
            is_public=self.role == Role.REPORTER or serializer.validated_data["is_public"],
        )


@extend_schema(parameters=[NUMBER])
class StatusUpdateViewSet(
    IncidentChildMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Public status updates for stakeholders; responders and up post them."""

    serializer_class = StatusUpdateSerializer
    kind = TimelineEntry.Kind.STATUS_UPDATE
    action_perms = {"create": "incidents.post_update_incident"}

    def perform_create(self, serializer):
        serializer.instance = services.incident_post_update(
            organization=self.organization,
            actor=self.request.user,
            incident=self.incident,
            body=serializer.validated_data["body"],
        )

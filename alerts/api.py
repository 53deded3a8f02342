"""Integrations, the alerts behind an incident and a service's change events, in /api/v1.

- ``services/<service>/integrations/`` (and ``…/<integration>/``, ``…/regenerate-key/``):
  admins and owners list, create, change and delete a service's integrations and read
  their keys, the credential a monitoring tool is configured with. Other roles get 403,
  like every admin-only resource.
- ``incidents/<number>/alerts/``: the alerts grouped on an incident, newest first, for
  everyone who sees the incident; reporters, who see no alerts, get 404.
- ``services/<service>/changes/``: the service's change events (deploys), newest first.
- ``alert_severity_map`` on ``services/<service>/``: the service's severity map, read and
  changed with the service's own fields (:mod:`core.extensions`).

Another organization's service, integration or incident answers 404, like one that does
not exist.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from alerts import kinds, services
from alerts.models import Alert, ChangeEvent, Integration
from alerts.severities import overrides_of, validate_severity_map
from incidents.api.fields import JSONField
from incidents.api.views import NUMBER, IncidentChildMixin
from incidents.models import Service
from tenancy.api.base import OrganizationScopedMixin

ID_MAX_DIGITS = 18
RATE_LIMIT_MAX = 1_000_000
SERVICE = OpenApiParameter("service", str, OpenApiParameter.PATH, description="The service's slug.")
INTEGRATION = OpenApiParameter(
    "integration", int, OpenApiParameter.PATH, description="The integration's id."
)


# --- serializers --------------------------------------------------------------------------


class IntegrationSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    key = serializers.CharField(
        read_only=True,
        help_text="The integration's secret key: the PagerDuty routing key, the Opsgenie "
        "GenieKey, or the last part of the Alertmanager and generic webhook URLs.",
    )
    url = serializers.SerializerMethodField(help_text="Where the monitoring tool sends events.")

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "kind",
            "service",
            "key",
            "is_active",
            "rate_limit_per_minute",
            "url",
            "created_at",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        path = kinds.ingestion_path(obj)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class IntegrationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    is_active = serializers.BooleanField()
    rate_limit_per_minute = serializers.IntegerField(
        min_value=1,
        max_value=RATE_LIMIT_MAX,
        help_text="Requests accepted per minute; more answer 429 so the sender retries.",
    )


class IntegrationCreateSerializer(IntegrationUpdateSerializer):
    kind = serializers.ChoiceField(choices=Integration.Kind.choices)
    is_active = serializers.BooleanField(default=True)
    rate_limit_per_minute = serializers.IntegerField(
        min_value=1, max_value=RATE_LIMIT_MAX, required=False
    )


class AlertSerializer(serializers.ModelSerializer):
    integration = serializers.CharField(source="integration.name", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "received_at",
            "action",
            "outcome",
            "dedup_key",
            "summary",
            "severity",
            "source",
            "integration",
            "payload",
        ]
        read_only_fields = fields


class ChangeEventSerializer(serializers.ModelSerializer):
    integration = serializers.CharField(source="integration.name", read_only=True)

    class Meta:
        model = ChangeEvent
        fields = [
            "id",
            "summary",
            "source",
            "timestamp",
            "custom_details",
            "links",
            "integration",
            "received_at",
        ]
        read_only_fields = fields


class SeverityMapField(JSONField):
    """A service's ``alert_severity_map``, kept by :class:`alerts.models.SeverityMap`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "Alert severity -> the new incident's impact, urgency and severity, over the "
            'defaults, e.g. {"warning": {"impact": 1, "urgency": 2}}.',
        )
        super().__init__(validators=[validate_severity_map], **kwargs)

    def get_attribute(self, service):
        return overrides_of(service)


# --- views --------------------------------------------------------------------------------


class ServiceChildMixin(OrganizationScopedMixin):
    """Views under services/<service>/: the service is one of the organization's."""

    _service = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if hasattr(self, request.method.lower()):
            self.service  # noqa: B018 -- another organization's service is 404 first

    @property
    def service(self) -> Service:
        if self._service is None:
            self._service = get_object_or_404(
                Service.objects.for_org(self.organization), slug=self.kwargs["service"]
            )
        return self._service


@extend_schema(parameters=[SERVICE, INTEGRATION])
class IntegrationViewSet(
    ServiceChildMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The service's integrations, with their keys and ingestion URLs (admins and owners).

    PagerDuty: ``POST <url>`` with ``routing_key`` = ``key``. Opsgenie: ``POST <url>`` with
    ``Authorization: GenieKey <key>``. Alertmanager and generic: the key is in the URL.
    """

    serializer_class = IntegrationSerializer
    perm_model = Integration
    lookup_url_kwarg = "integration"
    cursor_ordering = ("id",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_perms = {"regenerate_key": "alerts.change_integration"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Integration.objects.none()
        return (
            Integration.objects.for_org(self.organization)
            .filter(service=self.service)
            .select_related("service")
        )

    def get_object(self):
        value = self.kwargs["integration"]
        if not value.isascii() or not value.isdigit() or len(value) > ID_MAX_DIGITS:
            raise Http404("No such integration.")
        integration = get_object_or_404(self.get_queryset(), pk=int(value))
        self.check_object_permissions(self.request, integration)
        return integration

    def _render(self, integration, status_code=status.HTTP_200_OK):
        data = IntegrationSerializer(integration, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    @extend_schema(request=IntegrationCreateSerializer, responses={201: IntegrationSerializer})
    def create(self, request, *args, **kwargs):
        serializer = IntegrationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = services.integration_create(
            organization=self.organization,
            actor=request.user,
            service=self.service,
            **serializer.validated_data,
        )
        return self._render(integration, status.HTTP_201_CREATED)

    @extend_schema(request=IntegrationUpdateSerializer, responses={200: IntegrationSerializer})
    def partial_update(self, request, *args, **kwargs):
        integration = self.get_object()
        serializer = IntegrationUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:
            integration = services.integration_update(
                organization=self.organization,
                actor=request.user,
                integration=integration,
                **serializer.validated_data,
            )
        return self._render(integration)

    def destroy(self, request, *args, **kwargs):
        services.integration_delete(
            organization=self.organization, actor=request.user, integration=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: IntegrationSerializer})
    @action(detail=True, methods=["post"], url_path="regenerate-key")
    def regenerate_key(self, request, *args, **kwargs):
        """Replaces the key; the old one is refused from now on. Update the tool with it."""
        integration = services.integration_regenerate_key(
            organization=self.organization, actor=request.user, integration=self.get_object()
        )
        return self._render(integration)


@extend_schema(parameters=[NUMBER])
class AlertViewSet(IncidentChildMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The alerts received for the incident, newest first, each with its raw payload."""

    serializer_class = AlertSerializer
    perm_model = Alert
    cursor_ordering = ("-received_at", "-id")

    def check_permissions(self, request):
        # Reporters see no alerts: the route answers them as if it did not exist.
        if self.organization is not None and not request.user.has_perm(
            "alerts.view_alert", self.organization
        ):
            raise Http404("Not found.")
        super().check_permissions(request)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        return (
            Alert.objects.for_org(self.organization)
            .filter(incident=self.incident)
            .select_related("integration")
        )


@extend_schema(parameters=[SERVICE])
class ChangeEventViewSet(ServiceChildMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Changes (deploys, configuration changes) reported for the service, newest first."""

    serializer_class = ChangeEventSerializer
    perm_model = ChangeEvent
    cursor_ordering = ("-timestamp", "-id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ChangeEvent.objects.none()
        return (
            ChangeEvent.objects.for_org(self.organization)
            .filter(service=self.service)
            .select_related("integration")
        )


router = SimpleRouter()
router.register(
    r"services/(?P<service>[-\w]+)/integrations",
    IntegrationViewSet,
    basename="service-integration",
)
router.register(
    r"services/(?P<service>[-\w]+)/changes", ChangeEventViewSet, basename="service-change"
)
router.register(r"incidents/(?P<number>[^/.]+)/alerts", AlertViewSet, basename="incident-alert")
urlpatterns = router.urls

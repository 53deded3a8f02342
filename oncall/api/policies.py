"""Escalation policies in the API: ``escalation-policies/`` (+ ``<id>/preview/``), the
``escalation_policy`` field that services and teams show and take, and ``oncall-report/``."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.timezone import now
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incidents.models import Service
from oncall import bounds, preview, reports
from oncall.models import MAX_REPEAT, EscalationPolicy, Schedule, ServicePolicy, TeamPolicy
from oncall.services import policies as services
from tenancy.api.base import OrganizationScopedMixin
from tenancy.models import Team

User = get_user_model()


@extend_schema_field(
    {"type": "integer", "nullable": True, "description": "Id of an escalation policy, or null."}
)
class EscalationPolicyField(serializers.Field):
    """A service's or team's ``escalation_policy``: one of the organization's policies by
    id, or null. Another organization's id is "not found", like one that does not exist."""

    default_error_messages = {
        "invalid": "Expected the id of an escalation policy.",
        "does_not_exist": "Not found.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("help_text", "Id of the escalation policy that pages for it, or null.")
        super().__init__(**kwargs)

    def get_attribute(self, record):
        return services.policy_of(record)

    def to_representation(self, value):
        return value

    def to_internal_value(self, data):
        if isinstance(data, str) and data.isascii() and data.isdigit() and len(data) < 19:
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int) or not 0 < data < 2**63:
            self.fail("invalid")
        policy = EscalationPolicy.objects.for_org(self.context["organization"]).filter(pk=data)
        policy = policy.first()
        if policy is None:
            self.fail("does_not_exist")
        return policy


class StepSerializer(serializers.Serializer):
    delay_minutes = serializers.IntegerField(
        min_value=1,
        max_value=services.MAX_DELAY_MINUTES,
        default=30,
        help_text="Minutes to wait for an acknowledgement before the next step.",
    )
    round_robin = serializers.BooleanField(
        default=False, help_text="Page one of the step's people at a time, taking turns."
    )
    users = serializers.ListField(
        child=serializers.CharField(max_length=150),
        max_length=services.MAX_TARGETS,
        default=list,
        help_text="Usernames of members.",
    )
    teams = serializers.ListField(
        child=serializers.SlugField(max_length=50),
        max_length=services.MAX_TARGETS,
        default=list,
        help_text="Team slugs: the team's members.",
    )
    schedules = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=services.MAX_TARGETS,
        default=list,
        help_text="Schedule ids: whoever is on call.",
    )

    def to_representation(self, step):
        return services.describe_step(step)


class EscalationPolicySerializer(serializers.ModelSerializer):
    repeat = serializers.IntegerField(min_value=0, max_value=MAX_REPEAT, default=0)
    description = serializers.CharField(max_length=10_000, allow_blank=True, default="")
    steps = StepSerializer(many=True, allow_empty=False, max_length=services.MAX_STEPS)
    services = serializers.ListField(
        child=serializers.CharField(),
        source="used_by_services",
        read_only=True,
        help_text="Slugs of the services this policy pages for.",
    )
    teams = serializers.ListField(
        child=serializers.CharField(),
        source="used_by_teams",
        read_only=True,
        help_text="Slugs of the teams this policy pages for.",
    )

    class Meta:
        model = EscalationPolicy
        fields = [
            "id",
            "name",
            "description",
            "repeat",
            "steps",
            "services",
            "teams",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class PreviewQuerySerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, help_text="When the incident starts.")
    service = serializers.SlugField(
        max_length=50, required=False, help_text="Preview the policy that pages for it."
    )

    def validate_at(self, value):
        if not bounds.in_range(value):
            raise serializers.ValidationError(bounds.MESSAGE)
        return value


PreviewSerializer = inline_serializer(
    "EscalationPreview",
    {
        "policy": inline_serializer(
            "EscalationPreviewPolicy",
            {"id": serializers.IntegerField(), "name": serializers.CharField()},
            allow_null=True,
        ),
        "at": serializers.DateTimeField(),
        "entries": inline_serializer(
            "EscalationPreviewEntry",
            {
                "repeat": serializers.IntegerField(),
                "step": serializers.IntegerField(),
                "at": serializers.DateTimeField(),
                "users": serializers.ListField(child=serializers.CharField()),
                "targets": serializers.ListField(child=serializers.CharField()),
            },
            many=True,
        ),
    },
)


def with_usage(organization, policies):
    """Sets on each policy the slugs of the services and teams it pages for: two queries
    for any number of policies."""
    ids = [policy.pk for policy in policies]
    found = {"services": defaultdict(list), "teams": defaultdict(list)}
    for kind, model, field in (
        ("services", ServicePolicy, "service__slug"),
        ("teams", TeamPolicy, "team__slug"),
    ):
        rows = model.objects.for_org(organization).filter(policy_id__in=ids).order_by(field)
        for policy_id, slug in rows.values_list("policy_id", field):
            found[kind][policy_id].append(slug)
    for policy in policies:
        policy.used_by_services = found["services"][policy.pk]
        policy.used_by_teams = found["teams"][policy.pk]
    return policies


class EscalationPolicyViewSet(OrganizationScopedMixin, viewsets.ModelViewSet):
    """The organization's escalation policies; admins and owners change them. Writing
    ``steps`` replaces all of a policy's steps; escalations already running are not
    affected (they page from a snapshot)."""

    serializer_class = EscalationPolicySerializer
    lookup_url_kwarg = "policy"
    cursor_ordering = ("id",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_perms = {"preview": "oncall.view_escalationpolicy"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EscalationPolicy.objects.none()
        return EscalationPolicy.objects.for_org(self.organization).prefetch_related(
            "steps__targets__user", "steps__targets__team"
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return None if page is None else with_usage(self.organization, page)

    def get_object(self):
        return with_usage(self.organization, [super().get_object()])[0]

    def _fresh(self, policy):
        return with_usage(self.organization, [self.get_queryset().get(pk=policy.pk)])[0]

    def perform_create(self, serializer):
        policy = services.policy_create(
            organization=self.organization, actor=self.request.user, **serializer.validated_data
        )
        serializer.instance = self._fresh(policy)

    def perform_update(self, serializer):
        policy = services.policy_update(
            organization=self.organization,
            actor=self.request.user,
            policy=serializer.instance,
            **serializer.validated_data,
        )
        serializer.instance = self._fresh(policy)

    def perform_destroy(self, instance):
        services.policy_delete(
            organization=self.organization, actor=self.request.user, policy=instance
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("at", OpenApiTypes.DATETIME, description="Default: now."),
            OpenApiParameter(
                "service", str, description="Preview the policy that pages for this service."
            ),
        ],
        responses=PreviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, *args, **kwargs):
        """The pages the policy would send to an incident starting at ``at`` that nobody
        acknowledges: when, to whom, through which targets. With ``service``, the policy
        that would page for it (its own, else its team's) instead of this one."""
        policy = self.get_object()
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or now()
        if "service" in query.validated_data:
            service = get_object_or_404(
                Service.objects.for_org(self.organization).select_related("team"),
                slug=query.validated_data["service"],
            )
            policy = preview.policy_for_service(organization=self.organization, service=service)
        entries = (
            []
            if policy is None
            else preview.timeline(organization=self.organization, policy=policy, at=at)
        )
        return Response(
            {
                "policy": None if policy is None else {"id": policy.pk, "name": policy.name},
                "at": serializers.DateTimeField().to_representation(at),
                "entries": [
                    {
                        "repeat": entry.repeat,
                        "step": entry.step,
                        "at": serializers.DateTimeField().to_representation(entry.at),
                        "users": entry.users,
                        "targets": entry.targets,
                    }
                    for entry in entries
                ],
            }
        )


class ReportQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    team = serializers.SlugField(max_length=50, required=False, help_text="A team's slug.")
    user = serializers.CharField(max_length=150, required=False, help_text="A username.")

    def validate(self, data):
        start, end = data["start"], data["end"]
        for name in ("start", "end"):
            if not bounds.in_range(data[name]):
                raise serializers.ValidationError({name: bounds.MESSAGE})
        if end <= start:
            raise serializers.ValidationError({"end": "The end comes after the start."})
        if end - start > timedelta(days=reports.MAX_DAYS):
            raise serializers.ValidationError(
                {"end": f"A report covers at most {reports.MAX_DAYS} days."}
            )
        organization = self.context["organization"]
        if "team" in data:
            data["team"] = Team.objects.for_org(organization).filter(slug=data["team"]).first()
            if data["team"] is None:
                raise serializers.ValidationError({"team": "Not found."})
        if "user" in data:
            data["user"] = User.objects.filter(
                username=data["user"], memberships__organization=organization
            ).first()
            if data["user"] is None:
                raise serializers.ValidationError({"user": "Not found."})
        return data


REPORT_TOTALS = {
    "hours_on_call": serializers.FloatField(),
    "hours_at_night": serializers.FloatField(help_text="22:00-07:00 in the schedule's zone."),
    "hours_on_weekends": serializers.FloatField(),
    "pages": serializers.IntegerField(),
    "pages_outside_working_hours": serializers.IntegerField(
        help_text="Outside 09:00-18:00 Monday to Friday in the organization's zone."
    ),
    "median_minutes_to_acknowledge": serializers.FloatField(allow_null=True),
}
ReportSerializer = inline_serializer(
    "OncallReport",
    {
        "start": serializers.DateTimeField(),
        "end": serializers.DateTimeField(),
        "people": inline_serializer(
            "OncallReportPerson",
            {
                "username": serializers.CharField(),
                "name": serializers.CharField(),
                **REPORT_TOTALS,
            },
            many=True,
        ),
        "teams": inline_serializer(
            "OncallReportTeam", {"team": serializers.CharField(), **REPORT_TOTALS}, many=True
        ),
    },
)


class OncallReportView(OrganizationScopedMixin, generics.GenericAPIView):
    """Hours on call (at night, at weekends), pages (outside working hours) and the median
    time to acknowledge, per person and per team, over at most 93 days."""

    perm_model = Schedule
    serializer_class = ReportQuerySerializer

    def get_queryset(self):
        return Schedule.objects.none()

    @extend_schema(parameters=[ReportQuerySerializer], responses=ReportSerializer)
    def get(self, request, *args, **kwargs):
        query = ReportQuerySerializer(
            data=request.query_params, context={"organization": self.organization}
        )
        query.is_valid(raise_exception=True)
        report = reports.oncall_report(organization=self.organization, **query.validated_data)
        as_text = serializers.DateTimeField().to_representation
        return Response(
            {**report, "start": as_text(report["start"]), "end": as_text(report["end"])}
        )


router = SimpleRouter()
router.register("escalation-policies", EscalationPolicyViewSet, basename="escalation-policy")

urlpatterns = [
    *router.urls,
    path("oncall-report/", OncallReportView.as_view(), name="oncall-report"),
]

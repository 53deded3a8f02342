"""Notifications in /api/v1/orgs/<org>/: ``webhooks/`` (+ ``<id>/rotate-secret/``) and
``deliveries/`` (every message the outbox sent or will send, with its attempts, +
``<id>/retry/``). Owners and admins manage webhooks; responders and up read deliveries."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Prefetch
from django.urls import include, path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.secrets import mask
from notifications import webhooks
from notifications.models import Attempt, Delivery, Webhook
from notifications.services import deliveries as delivery_services
from notifications.services import webhooks as services
from tenancy.api.base import OrganizationScopedMixin


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(sorted(webhooks.EVENTS)),
        allow_empty=False,
        help_text="Event types: " + "; ".join(f"{k}: {v}" for k, v in webhooks.EVENTS.items()),
    )
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_…), in full only in the answer that created or "
        "rotated it; masked after."
    )

    class Meta:
        model = Webhook
        fields = [
            "id",
            "name",
            "url",
            "events",
            "is_active",
            "disabled_reason",
            "secret",
            "previous_secret_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["disabled_reason", "previous_secret_until", "created_at", "updated_at"]

    def get_secret(self, webhook) -> str:
        shown = self.context.get("secret_shown")
        return shown if shown else mask(webhook.secret)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["number", "started_at", "duration_ms", "status_code", "error", "response"]


class DeliverySerializer(serializers.ModelSerializer):
    incident = serializers.SlugRelatedField(slug_field="number", read_only=True)
    attempts = AttemptSerializer(source="attempt_log", many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "webhook",
            "recipient",
            "incident",
            "event_type",
            "message_id",
            "status",
            "next_attempt_at",
            "last_error",
            "created_at",
            "delivered_at",
            "attempts",
            "payload",
        ]
        read_only_fields = fields


class WebhookViewSet(OrganizationScopedMixin, viewsets.ModelViewSet):
    """The organization's outgoing webhooks, signed per Standard Webhooks."""

    serializer_class = WebhookSerializer
    lookup_url_kwarg = "webhook"
    cursor_ordering = ("id",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_perms = {"rotate_secret": "notifications.change_webhook"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Webhook.objects.none()
        return Webhook.objects.for_org(self.organization)

    def perform_create(self, serializer):
        webhook, secret = services.webhook_create(
            organization=self.organization, actor=self.request.user, **serializer.validated_data
        )
        serializer.instance = webhook
        serializer.context["secret_shown"] = secret

    def perform_update(self, serializer):
        serializer.instance = services.webhook_update(
            organization=self.organization,
            actor=self.request.user,
            webhook=serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.webhook_delete(
            organization=self.organization, actor=self.request.user, webhook=instance
        )

    @extend_schema(request=None, responses=WebhookSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, *args, **kwargs):
        """A new signing secret, in this answer only; the previous one keeps signing beside
        it for a day (``previous_secret_until``)."""
        webhook, secret = services.webhook_rotate_secret(
            organization=self.organization, actor=request.user, webhook=self.get_object()
        )
        context = {**self.get_serializer_context(), "secret_shown": secret}
        return Response(WebhookSerializer(webhook, context=context).data)


class IdFilter(django_filters.NumberFilter):
    """A whole number that fits a key (anything else is a 400, not a 500 or a guess)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=2**63 - 1, **kwargs)


class DeliveryFilter(django_filters.FilterSet):
    incident = IdFilter(field_name="incident__number", help_text="The incident's number.")
    webhook = IdFilter(field_name="webhook_id", help_text="The webhook's id.")

    class Meta:
        model = Delivery
        fields = ["status", "channel", "event_type", "incident", "webhook"]


class DeliveryViewSet(OrganizationScopedMixin, viewsets.ReadOnlyModelViewSet):
    """What the outbox sent or will send, newest first, with every attempt."""

    serializer_class = DeliverySerializer
    lookup_url_kwarg = "delivery"
    cursor_ordering = ("-created_at", "-id")
    filterset_class = DeliveryFilter
    action_perms = {"retry": "notifications.change_delivery"}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        return (
            Delivery.objects.for_org(self.organization)
            .select_related("incident")
            .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("number")))
        )

    @extend_schema(
        request=None,
        responses=inline_serializer("DeliveryRetried", {"status": serializers.CharField()}),
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, *args, **kwargs):
        """A failed or cancelled delivery is tried again now, with a few more attempts."""
        delivery = delivery_services.delivery_retry(
            organization=self.organization, actor=request.user, delivery=self.get_object()
        )
        return Response({"status": delivery.status})


router = SimpleRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("deliveries", DeliveryViewSet, basename="delivery")
urlpatterns = [path("", include(router.urls))]

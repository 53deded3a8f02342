"""The service catalog and the categories in the API: ``services/`` and ``categories/``."""

from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from core import extensions
from incidents import services
from incidents.api.fields import narrow_to_organization, slug_field, text_field
from incidents.models import Category, Service
from tenancy.api.base import OrganizationScopedMixin
from tenancy.models import Team


class ServiceSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=50)
    description = text_field()
    team = slug_field(Team, help_text="Slug of the team that owns the service.")

    class Meta:
        model = Service
        fields = [
            "slug",
            "name",
            "description",
            "team",
            "status",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        narrow_to_organization(self)

    def get_fields(self):
        """The service's own fields, then the settings other apps keep with it."""
        fields = super().get_fields()
        created_at = fields.pop("created_at")
        fields.update(extensions.api_fields(Service))
        fields["created_at"] = created_at
        return fields


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "is_active"]
        read_only_fields = fields


class ServiceViewSet(OrganizationScopedMixin, viewsets.ModelViewSet):
    """The service catalog; admins and owners change it."""

    serializer_class = ServiceSerializer
    lookup_field = "slug"
    cursor_ordering = ("slug",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Service.objects.none()
        return Service.objects.for_org(self.organization).select_related(
            "team", *extensions.related(Service)
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self.organization}

    def perform_create(self, serializer):
        serializer.instance = services.service_create(
            organization=self.organization, actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.service_update(
            organization=self.organization,
            actor=self.request.user,
            service=serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.service_delete(
            organization=self.organization, actor=self.request.user, service=instance
        )


class CategoryViewSet(OrganizationScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Incident categories of the organization (configured in the admin)."""

    serializer_class = CategorySerializer
    cursor_ordering = ("slug",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Category.objects.none()
        return Category.objects.for_org(self.organization)
